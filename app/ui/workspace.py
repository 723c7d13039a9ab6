"""What every view of a signed-in window needs, passed in (never a global).

A :class:`Workspace` holds the service context (database and user), the task
runner, the window's settings and the open business date.  Views read
``workspace.ctx`` to call services -- always through ``workspace.tasks`` so
the call runs off the GUI thread -- and ``workspace.can(permission)`` to hide
what the user may not do (the service refuses it anyway).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QObject, QSettings, Signal

from app.services import permissions
from app.services.context import ServiceContext
from app.ui.workers import TaskRunner


class Workspace(QObject):
    #: The open business date moved (end of day closed a day).
    business_date_changed = Signal(object)

    def __init__(
        self,
        ctx: ServiceContext,
        tasks: TaskRunner,
        settings: QSettings,
        business_date: date,
        *,
        database_label: str = "",
        database_kind: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tasks = tasks
        self.settings = settings
        self._business_date = business_date
        self.database_label = database_label
        self.database_kind = database_kind

    @property
    def actor_name(self) -> str:
        actor = self.ctx.actor
        return f"{actor.full_name or actor.username} ({actor.role})"

    @property
    def business_date(self) -> date:
        return self._business_date

    def set_business_date(self, day: date) -> None:
        if day != self._business_date:
            self._business_date = day
            self.business_date_changed.emit(day)

    def can(self, permission: str) -> bool:
        return permissions.allowed(self.ctx.actor, permission)
