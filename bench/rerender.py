"""Rewrite docs/BENCHMARKS.md from docs/benchmarks.json, the figures of the last run.

    bench/.venv/bin/python -m bench.rerender [--command "bench/run.sh ..."]

For edits of bench/FINDINGS.md (appended to the report) after a run: the figures, the
verdicts and the chart stay those of that one run; nothing is measured again.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench import config, report, targets
from bench.results import Bulk, LoadPoint, Lookup, Memory, Profile, Run, Startup, UpstreamCount

CHART = "benchmarks.png"


def _cold(data: dict[str, Any]) -> dict[str, Startup]:
    return {name: Startup(**value) for name, value in data.items()}


def load_run(data: dict[str, Any]) -> Run:
    return Run(
        machine=data["machine"],
        options=data["options"],
        load=[LoadPoint(**p) for p in data["load"]],
        upstream={n: UpstreamCount(**u) for n, u in data["upstream"].items()},
        bulk={n: Bulk(**b) for n, b in data["bulk"].items()},
        memory={n: Memory(**m) for n, m in data["memory"].items()},
        cold=_cold(data["cold"]),
        import_ms=data["import_ms"],
        secret_read_ms=data.get("secret_read_ms"),
        profiles=[
            Profile(
                latency_ms=p["latency_ms"],
                secrets_latency_ms=p["secrets_latency_ms"],
                cold=_cold(p["cold"]),
                secret_read_ms=p["secret_read_ms"],
                lookups=[Lookup(**lk) for lk in p["lookups"]],
                load=[LoadPoint(**pt) for pt in p["load"]],
            )
            for p in data.get("profiles", [])
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rerender")
    parser.add_argument("--command", default="bench/run.sh", help="the command of the run, as it was typed")
    args = parser.parse_args()
    run = load_run(json.loads((config.DOCS / "benchmarks.json").read_text()))
    verdicts = targets.check(run)
    (config.DOCS / "BENCHMARKS.md").write_text(report.markdown(run, verdicts, args.command, CHART))
    print("rewrote docs/BENCHMARKS.md from docs/benchmarks.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
