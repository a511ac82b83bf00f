"""A short load run, so that CI exercises the whole harness: the real server under
faults, the callers' retries, and the reconciliation against the simulator's record.

The full run is ``.venv/bin/python -m tests.load.run_load`` (5,000 requests at
concurrency 32); this one is 300 requests at concurrency 8 with the same faults.
"""

from __future__ import annotations

from tests.load.report import render
from tests.load.run_load import Options, run


def test_short_load_run_reconciles_exactly() -> None:
    outcome = run(Options(requests=300, concurrency=8, timeout=120.0))
    report = render(outcome.reconciliation)
    # The run really met faults and recovered from them, not a quiet run that
    # reconciles trivially.
    tables = dict(outcome.reconciliation.tables)
    assert int(dict(tables["requests"])["  retries (same key)"]) > 0, report
    assert int(dict(tables["HTTP status (all attempts)"]).get("502", "0")) > 0, report

    assert not outcome.reconciliation.problems, report
