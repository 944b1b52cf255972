"""Root pytest configuration: tier markers by folder, the shared fixture modules, and strict skips.

A skipped test is a test that did not run, so it never counts as a pass: a run with any skip ends with a
failure status and names the skipped tests with their reasons, unless the run was asked to be partial
with ``--allow-skips`` (``scripts/test --partial``)."""

from collections.abc import Generator
from pathlib import Path

import pytest

# One line per fixture module under tests/fixtures/.
pytest_plugins: list[str] = [
    "tests.fixtures.s3",
    "tests.fixtures.smtp",
    "tests.fixtures.control_plane",
    "tests.fixtures.devcloud",
    "tests.fixtures.t4o_services",
]

TIERS = ("unit", "functional", "integration", "e2e")
# Under pytest-xdist (scripts/test runs the fast tier with -n): a folder whose tests share a session
# fixture that must not run twice at once (the libvirtd its first user starts and its last one stops) or
# is costly to make (the filesystem images) goes to one worker as a whole; any other test goes with the
# rest of its file, so a module fixture starts once. (The CLI tests' all-in-one control plane is cheap to
# start once per worker, and their folder is the largest, so it is split by file.)
ONE_WORKER_FOLDERS = ("tests/functional/datamover/", "tests/functional/filerecovery/")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--allow-skips",
        action="store_true",
        help="a partial run: skipped tests (a server or tool missing here) do not fail the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Not on xdist workers: the controller sees every report and decides once.
    if not config.getoption("allow_skips") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(StrictSkips(), "t4o-strict-skips")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
    # Tests that restart shared servers (devcloud down/up) go last, so that the long-lived services other
    # tests hold (session fixtures) never see their cloud vanish under them. The sort is stable.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def xdist_scope(nodeid: str) -> str:
    """The unit of work of a test under pytest-xdist: its folder (ONE_WORKER_FOLDERS) or its file."""
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in ONE_WORKER_FOLDERS if path.startswith(folder)), path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class FolderOrFileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return FolderOrFileScheduling(config, log)


class StrictSkips:
    """Fails a run in which any test or module was skipped, naming each with its reason."""

    LISTED = 40

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        # An xfail is reported as skipped too; it is not a test that could not run.
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, object, object]:
        # The outermost wrapper: it ends after the terminal's own summary, so its verdict comes last.
        result = yield
        if not self.skipped:
            return result
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        lines = [f"{len(self.skipped)} skipped, so this run FAILS: a skipped test is a test that did not run"]
        lines += [f"  SKIPPED {nodeid}: {reason}" for nodeid, reason in self.skipped[: self.LISTED]]
        if len(self.skipped) > self.LISTED:
            lines.append(f"  ... and {len(self.skipped) - self.LISTED} more")
        lines.append(
            "Install what they need (scripts/bootstrap), or ask for a partial run with --allow-skips"
        )
        lines.append("(scripts/test --partial).")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in lines:
            if reporter is not None:
                reporter.write_line(line, red=True, bold=True)
            else:
                print(line)
        return result
