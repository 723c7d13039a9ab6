"""Errors the engine raises for input a person can fix."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input, naming the field and the problem in one line.

    ``field`` is a dotted path such as ``terms.rate`` or ``events[3].of``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
