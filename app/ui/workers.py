"""Background work for the desktop: the GUI thread never waits on the database.

The Anki pattern (STYLE.md): a piece of work is a function run off the GUI
thread with a success callback and a failure callback, both called back on
the GUI thread.  Writes go through one worker thread, so the database is never
written from two threads of this desk at once; reads run alongside on a small
pool.  A progress dialog appears only when work takes longer than
:data:`PROGRESS_DELAY_MS`, so short actions never flicker.  After a write the
runner emits :attr:`TaskRunner.changed` with *what* changed (a :class:`Change`)
and each view decides for itself whether to refresh.

Services pin their own decimal context and open their own session per call,
so running them on a pool thread needs nothing else: no session, ORM object
or decimal context crosses a thread here (DESIGN.md, "Money and time").
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from app.services.errors import ServiceError, SessionEnded, busy_notices

log = logging.getLogger("keel.ui.workers")

#: Work shorter than this never shows a progress dialog.
PROGRESS_DELAY_MS = 500

#: ``fn(report)`` for work that reports progress; ``report(done, total, label)``.
ProgressReport = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Change:
    """What a write changed, for views to decide whether to refresh.

    ``kind`` is past tense, like the signal: ``payment_posted``,
    ``payment_reversed``, ``batch_posted``, ``contact_logged``, ``day_closed``,
    ``product_saved``, ``user_saved``, ``flags_changed``, ``letter_issued``, ``note_added``,
    ``borrower_updated``, ``terms_changed``.
    ``loans`` empty means "possibly every loan" (end of day, a batch).
    """

    kind: str
    loans: tuple[str, ...] = ()

    def touches(self, loan_number: str | None) -> bool:
        return loan_number is not None and (not self.loans or loan_number in self.loans)


@dataclass
class _Pending:
    on_done: Callable[[Any], None] | None
    on_failed: Callable[[BaseException], None] | None
    on_progress: Callable[[int, int, str], None] | None
    owner: QWidget | None
    label: str | None
    change: Change | Callable[[Any], Change | None] | None
    write: bool
    dialog: QProgressDialog | None = None
    timer: QTimer | None = None
    #: The job's callable, released here on the GUI thread when the job is finished.
    fn: Callable[..., Any] | None = None
    #: Set by the progress dialog's Cancel button; the work checks it (a long export, never a database write).
    cancel: threading.Event | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Job(QRunnable):
    """One call on a pool thread.

    The job holds the runner weakly and gives up its callable before it reports: the
    last reference to either (and to any widget a callable's closure holds) must be
    dropped on the GUI thread -- the pending entry holds them there -- never on a pool
    thread, where destroying a Qt object crashes the process at some later moment.
    """

    def __init__(self, runner: TaskRunner, job_id: int, fn: Callable[..., Any], wants_progress: bool) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._runner = weakref.ref(runner)
        self._id = job_id
        self._fn: Callable[..., Any] | None = fn
        self._wants_progress = wants_progress

    def run(self) -> None:  # Qt's name; runs on a pool thread
        fn, self._fn = self._fn, None
        runner = self._runner()
        if fn is None or runner is None:
            return
        job_id = self._id
        progressed, noticed = runner._progressed, runner._noticed
        done, failed = runner._done, runner._failed
        del runner
        try:
            # "The database is busy — retrying" from a unit of work on this thread (issue 12).
            with busy_notices(lambda text: noticed.emit(job_id, text)):
                if self._wants_progress:
                    result = fn(lambda count, total, label: progressed.emit(job_id, count, total, label))
                else:
                    result = fn()
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI thread
            del fn
            failed.emit(job_id, exc)
        else:
            del fn
            done.emit(job_id, result)


class TaskRunner(QObject):
    """Runs service calls off the GUI thread; one per signed-in window."""

    #: Emitted on the GUI thread after a successful write: a :class:`Change`.
    changed = Signal(object)
    #: True while any work is pending (the window shows a busy indicator).  (object, not bool:
    #: PySide6 6.x has shown refcount trouble with bool arguments in queued lambdas.)
    busy_changed = Signal(object)

    #: Emitted on the GUI thread with a passing notice from running work, such as "the database is
    #: busy — retrying" (issue 12); the main window shows it in the status bar.
    notice = Signal(str)

    _done = Signal(int, object)
    _failed = Signal(int, object)
    _progressed = Signal(int, int, int, str)
    _noticed = Signal(int, str)

    def __init__(self, parent: QObject | None = None, *, read_threads: int = 3) -> None:
        super().__init__(parent)
        self._reads = QThreadPool(self)
        self._reads.setMaxThreadCount(read_threads)
        # One writer: SQLite has one write lock anyway, and on PostgreSQL one
        # desk's writes stay in the order the user made them.
        self._writes = QThreadPool(self)
        self._writes.setMaxThreadCount(1)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        # Queued: the slots run on the GUI thread whatever thread emits.
        self._done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self._progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._noticed.connect(self._on_notice, Qt.ConnectionType.QueuedConnection)
        # What finished jobs handed back (results, exceptions with their tracebacks, the
        # callables): kept a moment after the callbacks ran, then released here, so the
        # last reference never falls on a pool thread still unwinding (see _Job).
        self._retired: list[object] = []
        self._release = QTimer(self)
        self._release.setSingleShot(True)
        self._release.setInterval(1000)
        self._release.timeout.connect(self._retired.clear)
        #: Called with (owner, exception) when a job has no failure callback.
        self.default_failure: Callable[[QWidget | None, BaseException], None] = _log_only
        #: Called instead of any failure callback when a service refuses because the signed-in user was
        #: deactivated or given another role (SessionEnded): the main window signs them out (issue 11).
        self.failure_guard: Callable[[BaseException], None] | None = None

    # ------------------------------------------------------------ submitting
    def read(
        self,
        fn: Callable[..., Any],
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
        *,
        owner: QWidget | None = None,
        label: str | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Run a read-only call on the read pool.

        With ``on_progress``, ``fn`` is called with a ``report(done, total, label)`` function (as for
        :meth:`write`).  With ``cancel``, the progress dialog has a Cancel button that sets the event;
        ``fn`` checks it and stops (a long export: issue 13).  Writes never take one: a database
        transaction cannot stop half-way.
        """
        return self._submit(self._reads, fn, on_done, on_failed, on_progress, owner, label, None, write=False,
                            cancel=cancel)

    def write(
        self,
        fn: Callable[..., Any],
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[BaseException], None] | None = None,
        *,
        owner: QWidget | None = None,
        label: str | None = None,
        change: Change | Callable[[Any], Change | None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> int:
        """Run a writing service call on the one write thread.

        With ``on_progress``, ``fn`` is called with a ``report(done, total,
        label)`` function and ``on_progress`` receives its calls on the GUI
        thread.  ``change`` (or ``change(result)``) is emitted on success.
        """
        return self._submit(self._writes, fn, on_done, on_failed, on_progress, owner, label, change, write=True)

    def _submit(
        self,
        pool: QThreadPool,
        fn: Callable[..., Any],
        on_done: Callable[[Any], None] | None,
        on_failed: Callable[[BaseException], None] | None,
        on_progress: Callable[[int, int, str], None] | None,
        owner: QWidget | None,
        label: str | None,
        change: Change | Callable[[Any], Change | None] | None,
        *,
        write: bool,
        cancel: threading.Event | None = None,
    ) -> int:
        job_id = next(self._ids)
        pending = _Pending(on_done, on_failed, on_progress, owner, label, change, write, fn=fn, cancel=cancel)
        was_idle = not self._pending
        self._pending[job_id] = pending
        if label is not None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self._show_progress(job_id))
            timer.start(PROGRESS_DELAY_MS)
            pending.timer = timer
        if was_idle:
            self.busy_changed.emit(True)
        pool.start(_Job(self, job_id, fn, on_progress is not None))
        return job_id

    # ------------------------------------------------------------ state
    @property
    def idle(self) -> bool:
        return not self._pending

    def wait_for_writes(self, msecs: int = -1) -> bool:
        """Block until queued writes finish (closing the window must not cut one off)."""
        return self._writes.waitForDone(msecs)

    def wait_for_all(self, msecs: int = -1) -> bool:
        return self._writes.waitForDone(msecs) and self._reads.waitForDone(msecs)

    # ------------------------------------------------------------ results (GUI thread)
    def _finish(self, job_id: int) -> _Pending | None:
        pending = self._pending.pop(job_id, None)
        if pending is None:
            return None
        if pending.timer is not None:
            pending.timer.stop()
            pending.timer.deleteLater()
        if pending.dialog is not None:
            pending.dialog.reset()
            pending.dialog.hide()
            pending.dialog.deleteLater()
        if not self._pending:
            self.busy_changed.emit(False)
        if pending.owner is not None and not shiboken6.isValid(pending.owner):
            return None  # the view that asked has gone; nobody to tell
        return pending

    def _retire(self, *objects: object) -> None:
        self._retired.extend(objects)
        self._release.start()

    @Slot(int, object)
    def _on_done(self, job_id: int, result: object) -> None:
        self._retire(result, self._pending.get(job_id))
        pending = self._finish(job_id)
        if pending is None:
            return
        if pending.on_done is not None:
            try:
                pending.on_done(result)
            except Exception as exc:  # a bug in a callback must not kill the event loop
                log.exception("callback failed")
                self.default_failure(pending.owner, exc)
        if pending.write and pending.change is not None:
            change = pending.change(result) if callable(pending.change) else pending.change
            if change is not None:
                self.changed.emit(change)

    @Slot(int, object)
    def _on_failed(self, job_id: int, exc: object) -> None:
        self._retire(exc, self._pending.get(job_id))
        pending = self._finish(job_id)
        if pending is None:
            if not isinstance(exc, Exception):
                log.error("background work failed after its window closed: %r", exc)
            return
        assert isinstance(exc, BaseException)
        if isinstance(exc, SessionEnded) and self.failure_guard is not None:
            self.failure_guard(exc)
            return
        if pending.on_failed is not None and not isinstance(exc, ServiceError):
            # A bug, not a refusal: the view shows its own words, and the traceback goes to the log
            # that its message points at (issue 10: views with their own callback logged nothing).
            log.error("background work failed (%s)", pending.label or "no label", exc_info=exc)
        if pending.on_failed is not None:
            try:
                pending.on_failed(exc)
                return
            except Exception as inner:
                log.exception("failure callback failed")
                exc = inner
        self.default_failure(pending.owner, exc)

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, label: str) -> None:
        pending = self._pending.get(job_id)
        if pending is None:
            return
        if pending.on_progress is not None and (pending.owner is None or shiboken6.isValid(pending.owner)):
            pending.on_progress(done, total, label)
        if pending.dialog is not None and total > 0:
            pending.dialog.setMaximum(total)
            pending.dialog.setValue(min(done, total))

    @Slot(int, str)
    def _on_notice(self, job_id: int, text: str) -> None:
        if job_id in self._pending:
            self.notice.emit(text)

    def _show_progress(self, job_id: int) -> None:
        pending = self._pending.get(job_id)
        if pending is None or pending.label is None or pending.dialog is not None:
            return
        parent = pending.owner if pending.owner is not None and shiboken6.isValid(pending.owner) else None
        window = parent.window() if parent is not None else QApplication.activeWindow()
        dialog = QProgressDialog(pending.label, "Cancel", 0, 0, window)
        dialog.setObjectName("progressDialog")
        dialog.setWindowTitle("Keel")
        event = pending.cancel
        if event is None:
            dialog.setCancelButton(None)  # database work is one transaction: it cannot stop half-way
        else:
            dialog.canceled.connect(event.set)  # the work stops at its next check and says so
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.show()
        pending.dialog = dialog


def _log_only(owner: QWidget | None, exc: BaseException) -> None:
    log.error("background work failed", exc_info=exc)
