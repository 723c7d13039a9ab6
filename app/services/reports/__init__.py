"""Keel's reports (issue 13): services returning typed rows and totals, each with a ``table()``.

One module per report or family (:mod:`.trial_balance`, :mod:`.cash`,
:mod:`.delinquency`, :mod:`.collecting`, :mod:`.income`, :mod:`.portfolio`,
:mod:`.eod_days`), the month-end snapshots and closed days' totals they read
(:mod:`.snapshots`, :mod:`.day_totals`), and the registry the command line and the desktop choose from
(:data:`app.services.reports.registry.REPORTS`).  docs/reports.md describes
every report, its columns and how each figure is derived.

This package's ``__init__`` imports nothing, so end of day can import
:mod:`.snapshots` without loading every report.
"""
