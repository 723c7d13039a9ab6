"""Qt tests run offscreen: no display, no window manager, same pixels everywhere."""

import os

# Before pytest-qt creates the QApplication; an explicit setting (xcb under Xvfb,
# to watch a test) still wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import shiboken6  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402

from app.services import setup, users  # noqa: E402
from app.services.context import ServiceContext  # noqa: E402
from app.ui.workers import TaskRunner  # noqa: E402
from app.ui.workspace import Workspace  # noqa: E402
from tests.services.conftest import BUSINESS_DATE, FAST_HASHER, PASSWORDS, seed  # noqa: E402

__all__ = ["BUSINESS_DATE", "PASSWORDS"]


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", FAST_HASHER)


#: Every task runner a test made, kept until the session ends.  A runner dropped when its test returns
#: is destroyed by Python while pytest-qt still processes that test's last queued events (a rare
#: segmentation fault in ``_process_events``); the desk itself keeps one runner for its whole life.
_KEPT_RUNNERS: list[TaskRunner] = []


@pytest.fixture(autouse=True)
def runners_outlive_their_test(monkeypatch: pytest.MonkeyPatch, qapp: object) -> Iterator[None]:
    made: list[TaskRunner] = []
    original = TaskRunner.__init__

    def init(self: TaskRunner, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(TaskRunner, "__init__", init)
    yield
    alive = [r for r in made if shiboken6.isValid(r) and shiboken6.isValid(r._writes)]  # the desk may delete its own
    for runner in alive:
        runner.wait_for_all(10_000)
    QCoreApplication.processEvents()
    _KEPT_RUNNERS.extend(alive)


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path, qapp: object) -> Iterator[None]:
    """QSettings in the test's own folder, never the developer's real settings."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("KeelTest")
    QCoreApplication.setApplicationName("KeelTest")
    yield


@pytest.fixture
def db_file_url(tmp_path: Path) -> str:
    """A new SQLite file database (real commits: the UI's worker threads open their own sessions)."""
    return f"sqlite:///{tmp_path / 'keel-ui.sqlite3'}"


@pytest.fixture
def desk(db_file_url: str) -> Iterator[tuple[object, dict[str, ServiceContext]]]:
    """The database upgraded and seeded: business date 2026-06-01, users admin, manager, clerk, collector."""
    factory = setup.open_database(db_file_url)
    contexts = seed(factory)
    yield factory, contexts
    setup.close_database(factory)


@pytest.fixture
def make_workspace(desk: tuple[object, dict[str, ServiceContext]], qtbot: object) -> Iterator[Callable[[str], Workspace]]:
    runners: list[TaskRunner] = []

    def make(role: str) -> Workspace:
        _, contexts = desk
        runner = TaskRunner()
        runners.append(runner)
        return Workspace(contexts[role], runner, QSettings(), BUSINESS_DATE, database_label="test database")

    yield make
    for runner in runners:
        runner.wait_for_all(10_000)


@pytest.fixture
def open_window(make_workspace: Callable[[str], Workspace], qtbot: object) -> Callable[[str], object]:
    """A signed-in main window for a role, shown, with its first view loaded."""
    from app.ui.main_window import MainWindow
    from tests.ui.helpers import settle

    def open_(role: str) -> MainWindow:
        workspace = make_workspace(role)
        window = MainWindow(workspace)
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.show()
        qtbot.waitExposed(window)  # type: ignore[attr-defined]
        # Focus and widget shortcuts need the active window, as on a desk.
        window.activateWindow()
        qtbot.waitActive(window)  # type: ignore[attr-defined]
        qtbot.wait(10)  # type: ignore[attr-defined]
        settle(qtbot, workspace.tasks)
        return window

    return open_
