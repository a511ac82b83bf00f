"""Load with faults: the real server under concurrent workflow-tool callers, reconciled
against the simulator's own record (``python -m tests.load.run_load``)."""
