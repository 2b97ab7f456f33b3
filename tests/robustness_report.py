"""A pytest plugin that turns the tests marked `robustness(attack, behaviour)` into a report:
each attack or fault tried, how many cases actually ran, what the server did, and whether the
run confirmed it.

Cases: a test that takes the `robustness_cases` fixture counts its own (a hypothesis test
calls robustness_cases.count() once per example it runs, so the report shows the examples
hypothesis really ran, explicit @example's included); any other marked test is one case.

Every run that ran marked tests writes build/robustness.md (git-ignored), so `make test` leaves
tracked files alone. `make robustness` runs just the marked tests with
`--robustness-report=docs/robustness.md` to refresh the committed page; a run that did not
cover every marked test never writes the page under docs/."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_REPORT = REPO / "build" / "robustness.md"
COMMITTED_REPORT = REPO / "docs" / "robustness.md"
MIN_MARKED = 20  # fewer marked tests collected than this: a partial selection


@dataclasses.dataclass
class Row:
    behaviour: str
    tests: int = 0
    cases: int = 0
    passed: int = 0
    failed: int = 0


class CaseCounter:
    """Cases one test ran; count() once per hypothesis example (or per case of a loop)."""

    def __init__(self) -> None:
        self.cases = 0

    def count(self, cases: int = 1) -> None:
        self.cases += cases


_COUNTER = pytest.StashKey[CaseCounter]()
_rows: dict[str, Row] = collections.OrderedDict()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--robustness-report",
        default=str(DEFAULT_REPORT),
        help="where the robustness report goes (default build/robustness.md; "
        "`make robustness` writes docs/robustness.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "robustness(attack, behaviour): an attack or fault and what the server must do (robustness report)"
    )


@pytest.fixture
def robustness_cases(request: pytest.FixtureRequest) -> CaseCounter:
    """A counter the test bumps for each case it runs (one instance for all of a hypothesis
    test's examples: a function-scoped fixture is not reset between them)."""
    counter = CaseCounter()
    request.node.stash[_COUNTER] = counter
    return counter


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("robustness")
    if marker is None or report.when != "call":
        return
    attack, behaviour = marker.args[:2]
    row = _rows.setdefault(attack, Row(behaviour))
    counter = item.stash.get(_COUNTER, None)
    row.tests += 1
    row.cases += counter.cases if counter is not None and counter.cases else 1
    if report.passed:
        row.passed += 1
    else:
        row.failed += 1


def render(rows: dict[str, Row], complete: bool) -> str:
    lines = [
        "# Robustness: attacks and faults tried by the test suite",
        "",
        f"Generated on {datetime.date.today().isoformat()} from the tests marked `robustness`",
        "(tests/robustness_report.py) by `make robustness`; do not edit by hand. Cases are the",
        "cases that ran: for the hypothesis tests, the examples hypothesis actually ran (counted",
        "by the test); otherwise one per test.",
        "",
    ]
    if not complete:
        lines += ["**Partial run: not every test marked `robustness` ran.**", ""]
    lines += [
        "| attack or fault | tests | cases | what the server did | confirmed |",
        "|---|---:|---:|---|---|",
    ]
    for attack, row in rows.items():
        verdict = "yes" if row.failed == 0 else f"NO ({row.failed} failed)"
        lines.append(f"| {attack} | {row.tests} | {row.cases} | {row.behaviour} | {verdict} |")
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _rows:
        return
    marked = [i for i in session.items if i.get_closest_marker("robustness")]
    ran = sum(r.tests for r in _rows.values())
    complete = ran == len(marked) and len(marked) >= MIN_MARKED
    target = pathlib.Path(session.config.getoption("--robustness-report"))
    if not target.is_absolute():
        target = pathlib.Path(session.config.invocation_params.dir) / target
    if target.resolve() == COMMITTED_REPORT and not complete:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"robustness report NOT written to {target}: {ran} of {len(marked)} marked tests ran")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(_rows, complete))
