"""Services that may not be in this build yet (letters, end of day, the demo builder).

A view asks :func:`service` for the module; None means "not available", and
the view disables the action with a message saying so rather than faking it.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def service(name: str) -> ModuleType | None:
    """``app.services.<name>``, or None when this build does not have it."""
    full = f"app.services.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        return None


def has(name: str, *functions: str) -> bool:
    module = service(name)
    return module is not None and all(hasattr(module, f) for f in functions)


def missing_text(what: str, name: str) -> str:
    return f"{what} is not available in this build: the service app/services/{name}.py is not installed yet."
