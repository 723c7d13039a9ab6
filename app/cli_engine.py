"""CLI commands over the pure engine: ``schedule`` and ``simulate``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass
