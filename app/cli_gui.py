"""The ``gui`` command: open the desktop workstation.

Qt is imported inside the handler only, so every other command (``keel schedule``,
batch jobs on a server) starts without loading Qt.
"""

from __future__ import annotations

import argparse
import os
import sys

from app.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "gui",
        help="open the desktop workstation (the default command)",
        description="Open the Keel desktop workstation.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $KEEL_DATABASE_URL, else SQLite in the user data directory)",
    )
    source.add_argument(
        "--demo",
        action="store_true",
        help="open the demo database in the user data directory",
    )
    parser.add_argument(
        "--allow-owner",
        action="store_true",
        help="on PostgreSQL, work even as the owner of the tables (default: refused; also $KEEL_ALLOW_OWNER=1)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _require_display()
    if args.allow_owner:
        # The desktop opens its database in the sign-in dialog, which reads the override from here.
        os.environ["KEEL_ALLOW_OWNER"] = "1"
    from app.db.session import default_database_url, resolve_url, sqlite_path

    demo_url = None
    if args.demo:
        from app.services.demo import demo_database_url

        demo_url = demo_database_url()
        path = sqlite_path(demo_url)
        if path is not None and not path.exists():
            raise CliError(f"the demo database {path} does not exist yet; build it with `keel demo` "
                           "(`make run` does both)")
    try:
        from app.ui.application import run_gui
    except ImportError as exc:
        # Typically a missing system library (libEGL.so.1, libxkbcommon, ...).
        raise CliError(
            f"cannot load Qt ({exc}); on Debian run packaging/system-deps.sh"
        ) from exc
    # The local database: KEEL_DATABASE_URL if set, else the SQLite file in the data folder.
    local_url = resolve_url(None) if not args.db else default_database_url()
    return run_gui(args.db, args.demo, demo_url=demo_url, local_url=local_url)


def _require_display() -> None:
    """On Linux without a display Qt aborts the process; say so in one line instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise CliError(
        "no display (DISPLAY and WAYLAND_DISPLAY are not set); "
        "run from a desktop session or under `xvfb-run -a`"
    )
