"""Version policies and the availability-preserving plan, on plain lists."""

import pytest

from ie_serving.errors import ConfigError
from ie_serving.versions import State, VersionPolicy, VersionSnapshot, parse_policy, plan_changes


@pytest.mark.parametrize(
    ("raw", "available", "wanted"),
    [
        (None, [1, 2, 3], {3}),
        ({"latest": {}}, [3, 1, 2], {3}),
        ({"latest": {"num_versions": 2}}, [1, 2, 3], {2, 3}),
        ({"latest": {"num_versions": 5}}, [1, 2], {1, 2}),
        ({"all": {}}, [4, 1], {1, 4}),
        ({"specific": {"versions": [1, 3, 9]}}, [1, 2, 3], {1, 3}),
        ({"latest": {}}, [], set()),
    ],
)
def test_policy_selects(raw, available, wanted):
    assert parse_policy(raw).select(available) == wanted


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"latest": {"num_versions": 0}}, "num_versions: expected an integer >= 1, got 0"),
        ({"specific": {"versions": []}}, "specific.versions: expected a non-empty list"),
        ({"specific": {"versions": ["1"]}}, "specific.versions"),
        ({"newest": {}}, "expected one of"),
        ({"all": {}, "latest": {}}, "expected one of"),
        ("all", "expected one of"),
        ({"all": {"x": 1}}, "expected one of"),
    ],
)
def test_bad_policy_names_field(raw, message):
    with pytest.raises(ConfigError, match="model_version_policy") as info:
        parse_policy(raw)
    assert message in str(info.value)


A, L, E = State.AVAILABLE, State.LOADING, State.END
LATEST, LATEST2, ALL = VersionPolicy(), VersionPolicy("latest", num_versions=2), VersionPolicy("all")


def _v(version, on_storage=True, state=None, blocked=False):
    return VersionSnapshot(version, on_storage, state, blocked)


@pytest.mark.parametrize(
    ("case", "snapshots", "policy", "load", "unload"),
    [
        ("first load", [_v(1)], LATEST, (1,), ()),
        ("in step", [_v(2, state=A), _v(3, state=A)], LATEST2, (), ()),
        ("a new version loads first, the old one stays meanwhile", [_v(1, state=A), _v(2)], LATEST, (2,), ()),
        ("once the new one serves, the old one goes", [_v(1, state=A), _v(2, state=A)], LATEST, (), (1,)),
        ("a loading version counts as serving", [_v(1, state=A), _v(2, state=L)], LATEST, (), (1,)),
        (
            "the new one failed: the old one keeps serving",
            [_v(1, state=A), _v(2, state=E, blocked=True)],
            LATEST,
            (),
            (),
        ),
        (
            "a specific version that failed does not take the last serving one down",
            [_v(1, state=A), _v(2, state=E, blocked=True)],
            VersionPolicy("specific", versions=(2,)),
            (),
            (),
        ),
        (
            "a version deleted from storage while a newer one failed keeps serving",
            [_v(1, on_storage=False, state=A), _v(2, state=E, blocked=True)],
            LATEST,
            (),
            (),
        ),
        (
            "a version deleted from storage with nothing wanted unloads",
            [_v(1, on_storage=False, state=A)],
            LATEST,
            (),
            (1,),
        ),
        (
            "a version the policy no longer names unloads once the named one serves",
            [_v(1, state=A), _v(2, state=A)],
            VersionPolicy("specific", versions=(2,)),
            (),
            (1,),
        ),
        ("a failed version whose files changed is tried again", [_v(1, state=A), _v(2, state=None)], LATEST, (2,), ()),
        ("all: every new version loads", [_v(1, state=A), _v(2), _v(3)], ALL, (2, 3), ()),
        (
            "latest 2 after a failure keeps the two best that load",
            [_v(1, state=A), _v(2, state=A), _v(3, state=E, blocked=True)],
            LATEST2,
            (),
            (),
        ),
        ("an unloaded version wanted again loads", [_v(1, state=None), _v(2, state=A)], LATEST2, (1,), ()),
    ],
)
def test_availability_rule(case, snapshots, policy, load, unload):
    """TF Serving's AvailabilityPreservingPolicy (core/availability_preserving_policy.cc): load
    before unload, and never unload the last serving version because an aspired one failed."""
    plan = plan_changes(snapshots, policy)
    assert (plan.load, plan.unload) == (load, unload), case
