"""What a cold instance imports before its first answer, by package (issue 14).

    .venv/bin/python -m bench.cold_imports [--repeats 5] [--pyinstrument] [--source /other/checkout/main.py]

A fresh interpreter (``python -X importtime``) imports ``main`` as functions-framework
does, then serves its first deletion (the app's test client; the simulator and the fake
Secret Manager on loopback, in this process); its imports are split into the two
phases and summed by top-level package (each module's own import time, in ms, median
over the repeats). Run once per credentials source: the mounted file
(``CEC_CREDENTIALS_FILE``) and the Secret Manager library (``CEC_CREDENTIALS_SECRET``).
With ``--pyinstrument``, one more child prints pyinstrument's profile of the first request.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cec_sim import FakeSecretManagerControl, SimulatorControl, start_cec, start_secret_manager  # noqa: E402
from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET  # noqa: E402

SECRET = "projects/bench/secrets/cec"
KEY = "bench-key"
MARK = "--- first request ---"
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)$")

CHILD = f"""
import sys, time
started = time.perf_counter()
import main
imported = time.perf_counter()
print({MARK!r}, file=sys.stderr, flush=True)
import functions_framework
app = functions_framework.create_app(target="delete_called_route", source=sys.argv[1])
response = app.test_client().post("/", data=b'{{"dnids": "1"}}', content_type="application/json",
                                  headers={{"X-API-Key": {KEY!r}}})
assert response.status_code == 200, response.get_data(as_text=True)
answered = time.perf_counter()
print("TIMES", round((imported - started) * 1000, 1), round((answered - imported) * 1000, 1))
"""


PROFILE_CHILD = f"""
import sys
import main
import functions_framework, pyinstrument
profiler = pyinstrument.Profiler(interval=0.0005)
profiler.start()
app = functions_framework.create_app(target="delete_called_route", source=sys.argv[1])
response = app.test_client().post("/", data=b'{{"dnids": "1"}}', content_type="application/json",
                                  headers={{"X-API-Key": {KEY!r}}})
profiler.stop()
assert response.status_code == 200, response.get_data(as_text=True)
print(profiler.output_text(unicode=False, color=False))
"""


def phases(stderr: str) -> tuple[dict[str, float], dict[str, float]]:
    """{package: ms} for `import main` and for the first request: every module's own
    (self) import time, summed by its top-level package, so the sums add up to the total."""
    sums: tuple[dict[str, float], dict[str, float]] = (defaultdict(float), defaultdict(float))
    phase = 0
    for line in stderr.splitlines():
        if line.strip() == MARK:
            phase = 1
            continue
        match = _LINE.match(line)
        if match:
            sums[phase][match.group(4).split(".")[0]] += int(match.group(1)) / 1000
    return sums


def run(source: Path, env: dict[str, str], repeats: int) -> tuple[dict[str, list[float]], ...]:
    imports: dict[str, list[float]] = defaultdict(list)
    first: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        SimulatorControl(env["CEC_BASE_URL"]).reset()  # the same routes for every run
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", CHILD, str(source)],
            cwd=source.parent, env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        before, during = phases(result.stderr)
        for name, ms in before.items():
            imports[name].append(ms)
        for name, ms in during.items():
            first[name].append(ms)
        times = next(line for line in result.stdout.splitlines() if line.startswith("TIMES")).split()
        wall["import main (wall)"].append(float(times[1]))
        wall["create_app and first request (wall)"].append(float(times[2]))
    return imports, first, wall


def table(title: str, samples: dict[str, list[float]], repeats: int) -> list[str]:
    rows = sorted(((statistics.median(v + [0.0] * (repeats - len(v))), k) for k, v in samples.items()), reverse=True)
    total = sum(ms for ms, _ in rows)
    lines = [f"{title}: {total:.0f} ms of imports", "| package | ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.1f} |" for ms, name in rows if ms >= 1.0]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_imports")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", type=Path, default=ROOT / "main.py")
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    repeats = min(max(args.repeats, 1), 20)
    cec, secrets = start_cec(), start_secret_manager()
    try:
        FakeSecretManagerControl(secrets.url).add_version(
            SECRET, json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET})
        )
        creds = Path(tempfile.mkdtemp(prefix="cold-imports-")) / "credentials.json"
        creds.write_text(json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}))
        base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        base |= {
            "CALLER_AUTH": "api_key",
            "API_KEYS": KEY,
            "CEC_BASE_URL": cec.url,
            "LOG_LEVEL": "WARNING",
            "CEC_LOOKUP_BEFORE_DELETE": "false",  # the high-volume setting the cold targets are for
        }
        sources = {
            "file (CEC_CREDENTIALS_FILE)": {**base, "CEC_CREDENTIALS_FILE": str(creds)},
            "Secret Manager library (CEC_CREDENTIALS_SECRET)": {
                **base,
                "CEC_CREDENTIALS_SECRET": SECRET + "/versions/latest",
                "SECRET_MANAGER_ENDPOINT": secrets.url,
            },
        }
        for name, env in sources.items():
            try:
                imports, first, wall = run(args.source.resolve(), env, repeats)
            except subprocess.CalledProcessError as exc:
                print(f"\n## {name}: the first request failed with this checkout\n\n{exc.stderr[-600:]}")
                continue
            print(f"\n## {name}, {repeats} runs, medians\n")
            print("\n".join(f"- {k}: {statistics.median(v):.0f} ms" for k, v in wall.items()))
            print("\n" + "\n".join(table("import main", imports, repeats)))
            print("\n" + "\n".join(table("first request", first, repeats)))
            if args.pyinstrument:
                result = subprocess.run(
                    [sys.executable, "-c", PROFILE_CHILD, str(args.source.resolve())],
                    cwd=args.source.resolve().parent, env=env, capture_output=True, text=True, timeout=120,
                    check=True,
                )  # fmt: skip
                print("\npyinstrument, first request:\n```\n" + result.stdout.strip()[:6000] + "\n```")
    finally:
        cec.stop()
        secrets.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
