"""The ``keel`` command line: help, one-line errors, and no Qt outside ``keel gui``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_keel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_exits_zero() -> None:
    result = run_keel("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: keel" in result.stdout
    assert "gui" in result.stdout


def test_unknown_command_is_a_one_line_error() -> None:
    result = run_keel("no-such-command")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keel: error:")


def test_building_the_parser_does_not_import_qt() -> None:
    # Batch commands on a server must start without Qt (or its system libraries).
    code = (
        "import sys\n"
        "from app.cli import build_parser\n"
        "build_parser()\n"
        "loaded = sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'PySide6', 'shiboken6', 'pyqtgraph'} or m.startswith('app.ui'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_gui_refuses_db_and_demo_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gui", "--db", "sqlite:///x.db", "--demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error:") and err.count("\n") == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display check is Linux-only")
def test_gui_without_a_display_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["gui", "--demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keel: error: no display") and err.count("\n") == 1
