"""The general ledger (issue 13, item 2): the account mapping, the journal, its control totals.

* :mod:`.accounts` — the lender's account number and name for each role of
  :data:`app.domain.gl.ROLES` and the charge-off method, one JSON system setting;
* :mod:`.journal` — the journal for a period by business date: one balanced
  journal entry per business day and product, and the ledger entries behind one;
* :mod:`.control` — the control accounts' balances on any date beside the
  booked ledger's figures.

The rules are pure (:mod:`app.domain.gl`); the exports are
:mod:`app.reports.gl_export`; the commands ``keel gl ...`` (:mod:`app.cli_gl`).
"""
