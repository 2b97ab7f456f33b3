"""Version policies as pure functions: the versions on storage in, the versions to serve out.

Kept free of I/O and threads so that every rule can be tested with plain lists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from ie_serving.errors import ConfigError


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
class Plan:
    """What a reconciliation step does: load these versions first, then unload those."""

    load: tuple[int, ...]
    unload: tuple[int, ...]


def plan_changes(serving: Iterable[int], wanted: Iterable[int]) -> Plan:
    """Availability-preserving plan: new wanted versions are loaded before versions no
    longer wanted are unloaded, so a model is never left without a served version
    during a swap (TF Serving's AvailabilityPreservingPolicy)."""
    serving_set, wanted_set = set(serving), set(wanted)
    return Plan(load=tuple(sorted(wanted_set - serving_set)), unload=tuple(sorted(serving_set - wanted_set)))
