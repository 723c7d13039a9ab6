"""What every workstation view has: a title, a shortcut, lazy loading, and change handling."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.ui.workers import Change
from app.ui.workspace import Workspace


class View(QWidget):
    #: The navigation label and the window title part.
    title = ""
    #: Ctrl+<digit> shortcut that shows the view.
    shortcut = ""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self._loaded = False
        workspace.tasks.changed.connect(self._changed)

    def activate(self) -> None:
        """Called each time the view is shown; loads its data the first time."""
        if not self._loaded:
            self._loaded = True
            self.refresh()

    def refresh(self) -> None:
        """Reload everything the view shows."""

    def apply_change(self, change: Change) -> None:
        """A write somewhere changed something; refresh if it concerns this view."""

    def unsaved_work(self) -> str | None:
        """Work typed and not saved, in words ("a payment of $250.00 to KL-000123 ..."); None when there is none.

        Quitting or signing out asks first when any view has some (issue 11).
        """
        return None

    def save_state(self) -> None:
        """Persist splitter and column layout to the workspace settings."""

    def _changed(self, change: Change) -> None:
        if self._loaded:
            self.apply_change(change)
