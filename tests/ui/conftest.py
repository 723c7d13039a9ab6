"""Qt tests run offscreen: no display, no window manager, same pixels everywhere."""

import os

# Before pytest-qt creates the QApplication; an explicit setting (xcb under Xvfb,
# to watch a test) still wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
