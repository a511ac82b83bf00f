"""Paths, fixed inputs and the run's options, shared by every part of the harness."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOCS = ROOT / "docs"
# The interpreter running the harness also serves the contenders: one venv, one
# set of library versions for all of them.
PYTHON = sys.executable
FUNCTIONS_FRAMEWORK = str(Path(sys.executable).with_name("functions-framework"))

API_KEY = "bench-caller-key"
CREDENTIALS_SECRET = "projects/demo/secrets/cec-credentials/versions/latest"
APP_KEY = "sim-app-key"
APP_SECRET = "sim-app-secret"
TOKEN_PATH = "/apigovernance/api/oauth/tokenByAkSk"
DELETE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute"
# Two deletable seeded routes; --keep-routes lets the same body succeed forever.
LOAD_BODY = b'{"dnids": "1,2"}'
BULK_START = 100000


@dataclass(frozen=True)
class Options:
    duration: float = 10.0
    warmup: float = 1.0
    concurrency: tuple[int, ...] = (1, 8, 32)
    latency_ms: float = 20.0
    # The second profile (bench/realistic.py): a real tenant across regions.
    realistic_latency_ms: float = 150.0
    secrets_latency_ms: float = 30.0
    # Other work on a shared machine only ever slows a point down, so each point is
    # measured in `rounds` turns and the fastest round is kept.
    rounds: int = 2
    cold_repeats: int = 5
    # Imports taken per contender, in turns (bench/startup.py).
    import_repeats: int = 11
    bulk_count: int = 10000
    bulk_repeats: int = 3
    upstream_requests: int = 400
    profile: bool = False
    # Another checkout's main.py, to measure a proposed change before it lands.
    function_source: Path = ROOT / "main.py"
    write_report: bool = True
