"""Version policies and the availability-preserving plan, on plain lists."""

import pytest

from ie_serving.errors import ConfigError
from ie_serving.versions import VersionPolicy, parse_policy, plan_changes


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


def test_plan_loads_new_before_unloading_old():
    plan = plan_changes(serving=[1], wanted=VersionPolicy().select([1, 2]))
    assert plan.load == (2,)
    assert plan.unload == (1,)


def test_plan_is_empty_when_in_step():
    plan = plan_changes(serving=[2, 3], wanted={2, 3})
    assert plan.load == () and plan.unload == ()
