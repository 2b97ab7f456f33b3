"""Version states, version policies and the availability rule, as pure functions over
snapshots of a model's versions: the versions on storage in, the versions to load and unload
out. Kept free of I/O and threads so that every rule can be tested with plain lists.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping

from ie_serving.errors import ConfigError


class State(enum.IntEnum):
    """TF Serving's ModelVersionStatus.State values."""

    START = 10
    LOADING = 20
    AVAILABLE = 30
    UNLOADING = 40
    END = 50


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    """Which of the available versions to serve: all, the latest N, or a fixed list."""

    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, available: Iterable[int]) -> set[int]:
        """The versions this policy wants out of those available."""
        present = sorted(set(available))
        if self.kind == "all":
            return set(present)
        if self.kind == "latest":
            return set(present[-self.num_versions :])
        return set(self.versions) & set(present)


def parse_policy(value: object, field: str = "model_version_policy") -> VersionPolicy:
    """Parse TF Serving's JSON form: {"all": {}}, {"latest": {"num_versions": N}} or
    {"specific": {"versions": [...]}}; None gives the default (latest 1)."""
    accepted = '{"all": {}}, {"latest": {"num_versions": N}} or {"specific": {"versions": [N, ...]}}'
    if value is None:
        return VersionPolicy()
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ConfigError(f"{field}: expected one of {accepted}, got {value!r}")
    ((kind, body),) = value.items()
    if not isinstance(body, Mapping):
        raise ConfigError(f"{field}.{kind}: expected an object, got {body!r}")
    if kind == "all" and not body:
        return VersionPolicy(kind="all")
    if kind == "latest" and set(body) <= {"num_versions"}:
        num = body.get("num_versions", 1)
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise ConfigError(f"{field}.latest.num_versions: expected an integer >= 1, got {num!r}")
        return VersionPolicy(kind="latest", num_versions=num)
    if kind == "specific" and set(body) == {"versions"}:
        versions = body["versions"]
        if (
            not isinstance(versions, list)
            or not versions
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in versions)
        ):
            raise ConfigError(
                f"{field}.specific.versions: expected a non-empty list of positive integers, got {versions!r}"
            )
        return VersionPolicy(kind="specific", versions=tuple(sorted(set(versions))))
    raise ConfigError(f"{field}: expected one of {accepted}, got {dict(value)!r}")


@dataclasses.dataclass(frozen=True)
class VersionSnapshot:
    """What the availability rule knows of one version of a model."""

    version: int
    on_storage: bool  # listed under the base path now, in a format that can be loaded
    state: State | None = None  # None: no load attempt yet
    blocked: bool = False  # its last load failed and is not tried again now


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a reconciliation step does: load these versions, or else unload those."""

    load: tuple[int, ...] = ()
    unload: tuple[int, ...] = ()


def plan_changes(snapshots: Iterable[VersionSnapshot], policy: VersionPolicy) -> Plan:
    """The next step of the availability rule (TF Serving's AvailabilityPreservingPolicy):

    - the policy chooses among the versions on storage that are not blocked;
    - wanted versions not yet serving are loaded first, and nothing is unloaded in that step
      (so a swap never leaves the model without a served version);
    - once nothing is left to load, serving versions no longer wanted are unloaded, except when
      none of the wanted ones serves while the policy still aspires to versions that failed:
      a new version that failed to load never takes the last serving one down with it.
    An empty plan means the model is in step with storage."""
    snapshots = list(snapshots)
    on_storage = {s.version for s in snapshots if s.on_storage}
    wanted = policy.select({s.version for s in snapshots if s.on_storage and not s.blocked})
    serving = {s.version for s in snapshots if s.state in (State.LOADING, State.AVAILABLE)}
    load = wanted - serving
    if load:
        return Plan(load=tuple(sorted(load)))
    if not serving & wanted and policy.select(on_storage):
        return Plan()
    return Plan(unload=tuple(sorted(serving - wanted)))
