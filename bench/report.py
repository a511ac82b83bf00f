"""docs/BENCHMARKS.md: the command, the machine, the verdicts and the figures of one run."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bench import config
from bench.load import UPSTREAM
from bench.results import LoadPoint, Run
from bench.targets import Verdict, cold_allowance_s, ratio

CONTENDERS = ("function", "naive", "floor")
FINDINGS = config.BENCH / "FINDINGS.md"


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _figure(label: str, values: Mapping[str, float | None], anchor: float | None, fmt: str) -> str:
    fn = values.get("function")
    return _row(
        [
            label,
            *(_num(values.get(name), fmt) for name in CONTENDERS),
            _num(anchor, fmt),
            ratio(fn, values.get("floor")),
            ratio(fn, values.get("naive")),
        ]
    )


def _load_rows(run: Run, label: str, pick: Callable[[LoadPoint], float | None], fmt: str) -> list[str]:
    rows = []
    for c in run.options["concurrency"]:  # type: ignore[attr-defined]
        values = {name: (pick(p) if (p := run.point(name, c)) else None) for name in CONTENDERS}
        direct = run.point(UPSTREAM, c)
        rows.append(_figure(f"{label}, c={c}", values, pick(direct) if direct else None, fmt))
    return rows


def figures_table(run: Run) -> list[str]:
    head = ["figure", *CONTENDERS, "anchor", "function / floor", "function / naive"]
    rows = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    rows += _load_rows(run, "throughput (req/s)", lambda p: p.rps, ".0f")
    rows += _load_rows(run, "p50 latency (ms)", lambda p: p.p50_ms, ".2f")
    rows += _load_rows(run, "p99 latency (ms)", lambda p: p.p99_ms, ".2f")
    rows += _load_rows(run, "CPU per request (ms)", lambda p: p.cpu_ms_per_request, ".2f")
    rows.append(
        _figure("upstream requests per served request", {n: u.per_served for n, u in run.upstream.items()}, None, ".3f")
    )
    cold = {n: s.cold_s for n, s in run.cold.items()}
    hello = run.cold.get("hello")
    rows.append(_figure("cold start (s)", cold, hello.cold_s if hello else None, ".3f"))
    listen = {n: s.listen_s for n, s in run.cold.items()}
    rows.append(_figure("  of which: until the port listens (s)", listen, hello.listen_s if hello else None, ".3f"))
    rows.append(_figure("import time of main (ms)", dict(run.import_ms), run.import_ms.get("hello"), ".0f"))
    rows.append(_figure("peak memory, PSS of process tree (MiB)", _mem(run, "peak_pss_mib"), None, ".1f"))
    rows.append(_figure("  worker RSS high-water mark (MiB)", _mem(run, "worker_hwm_mib"), None, ".1f"))
    rows.append(_figure("  sum of RSS high-water marks (MiB)", _mem(run, "tree_hwm_mib"), None, ".1f"))
    count = run.options["bulk_count"]
    bulk_s = {n: b.seconds for n, b in run.bulk.items()}
    rows.append(_figure(f"{count:,} dnids in one request: wall time (s)", bulk_s, None, ".2f"))
    rows.append(_figure("  delete calls", {n: b.delete_calls for n, b in run.bulk.items()}, None, ".0f"))
    rows.append(_figure("  routes reported deleted", {n: b.deleted for n, b in run.bulk.items()}, None, ".0f"))
    return rows


def _mem(run: Run, attr: str) -> dict[str, float | None]:
    return {name: getattr(mem, attr) for name, mem in run.memory.items()}


def contention_table(run: Run) -> list[str]:
    rows = [
        _row(["contender", "c", "req/s", "errors", "CPU/req contender (ms)", "CPU/req simulator (ms)", "machine busy"]),
        _row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    for p in run.load:
        rows.append(
            _row(
                [
                    p.contender,
                    str(p.concurrency),
                    f"{p.rps:.0f}",
                    str(p.errors),
                    _num(p.cpu_ms_per_request, ".2f"),
                    f"{p.sim_cpu_ms_per_request:.2f}",
                    f"{p.machine_busy_pct:.0f} %",
                ]
            )
        )
    return rows


def cold_path_section(run: Run) -> list[str]:
    fn, sm = run.cold.get("function"), run.cold.get("function-sm")
    if not (fn and sm):
        return []
    o = run.options
    lines = [
        "## Cold path: file source against the Secret Manager library",
        "",
        f"At {o['latency_ms']} ms per CEC call and {o['secrets_latency_ms']} ms per secret read; medians of"
        f" {o['cold_repeats']} starts.",
        "",
        _row(["", "function (file)", "function-sm (library)", "floor", "hello"]),
        _row(["---", "---:", "---:", "---:", "---:"]),
        _row(
            ["cold start, process start to first 200 (s)", f"{fn.cold_s:.3f}", f"{sm.cold_s:.3f}"]
            + [_num(run.cold[n].cold_s, ".3f") if n in run.cold else "n/a" for n in ("floor", "hello")]
        ),
        _row(
            ["  of which: until the port listens (s)", f"{fn.listen_s:.3f}", f"{sm.listen_s:.3f}"]
            + [_num(run.cold[n].listen_s, ".3f") if n in run.cold else "n/a" for n in ("floor", "hello")]
        ),
        "",
        "function-sm's first request, broken down: import of `main` "
        f"{_num(run.import_ms.get('function'), '.0f')} ms (the same module as function's), first secret read"
        f" {_num(run.secret_read_ms, '.0f')} ms as its log line times it (importing and building the"
        f" google-cloud-secret-manager client included, the read itself {o['secrets_latency_ms']} ms of it),"
        f" then tokenByAkSk and deleteCalledRoute, {o['latency_ms']} ms each plus their share of the rest.",
        "",
    ]
    return lines


def profile_sections(run: Run) -> list[str]:
    lines: list[str] = []
    for p in run.profiles:
        lines += [
            f"## Profile: {p.latency_ms:g} ms per CEC call, {p.secrets_latency_ms:g} ms per secret read",
            "",
            "Same simulator, latency raised after the figures above (`bench/realistic.py`).",
            "",
            _row(["cold start (s)", *p.cold.keys()]),
            _row(["---", *("---:" for _ in p.cold)]),
            _row(["median", *(f"{s.cold_s:.3f}" for s in p.cold.values())]),
            "",
            f"function-sm's first secret read (library import included): {_num(p.secret_read_ms, '.0f')} ms.",
            "",
            _row(
                [
                    "lookup: ids, dry run",
                    "CEC_LOOKUP_CONCURRENCY",
                    "wall time (s)",
                    "queryCalledRoute calls",
                    "planned",
                    "HTTP",
                ]
            ),
            _row(["---", "---:", "---:", "---:", "---:", "---:"]),
            *(
                _row(
                    [
                        f"{lk.ids:,} ids, {lk.tenant_routes:,}-route tenant",
                        str(lk.concurrency),
                        f"{lk.seconds:.2f}",
                        str(lk.query_calls),
                        f"{lk.planned:,}",
                        str(lk.http_status),
                    ]
                )
                for lk in p.lookups
            ),
            "",
            _row(["load", "c", "req/s", "p50 (ms)", "p99 (ms)", "errors", "CPU/req (ms)", "machine busy"]),
            _row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
            *(
                _row(
                    [
                        pt.contender,
                        str(pt.concurrency),
                        f"{pt.rps:.0f}",
                        f"{pt.p50_ms:.1f}",
                        f"{pt.p99_ms:.1f}",
                        str(pt.errors),
                        _num(pt.cpu_ms_per_request, ".2f"),
                        f"{pt.machine_busy_pct:.0f} %",
                    ]
                )
                for pt in p.load
            ),
            "",
            "`THREADS default` is functions-framework's 4 threads per CPU; with fewer threads than",
            "concurrent requests, requests wait inside the instance, which is why Terraform and `deploy.sh`",
            "set `THREADS` to `max_instance_request_concurrency`.",
            "",
        ]
    return lines


def verdict_table(verdicts: list[Verdict]) -> list[str]:
    rows = [_row(["target", "measured", "verdict"]), _row(["---", "---", "---"])]
    rows += [_row([v.target, v.measured, "**met**" if v.met else "**MISSED**"]) for v in verdicts]
    return rows


def markdown(run: Run, verdicts: list[Verdict], command: str, chart_name: str | None) -> str:
    o, m = run.options, run.machine
    lines = [
        "# Benchmarks",
        "",
        f"Generated by the harness on {m['date']}; rerun the command below to regenerate this file,",
        "`benchmarks.png` and `benchmarks.json`. The findings at the end come from `bench/FINDINGS.md`.",
        "",
        "## Command",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in m.items() if key != "date"),
        "",
        "## Setup",
        "",
        "- **function**: this repository's `main.py`, `CALLER_AUTH=api_key`, the AK/SK and the API keys from",
        "  files (`CEC_CREDENTIALS_FILE`, `API_KEYS_FILE`, as Terraform and `deploy.sh` mount the secrets by",
        "  default), all other settings at their defaults. On Cloud Run each read of such a file is a Secret",
        "  Manager fetch; here it is a local file, so the secret read's round trip is not in its cold start.",
        "- **function-sm**: the same, with the AK/SK read from the fake Secret Manager through",
        "  google-cloud-secret-manager (`CEC_CREDENTIALS_SECRET`, `SECRET_MANAGER_ENDPOINT`).",
        "- **naive** (`bench/contenders/naive`): secret read with google-cloud-secret-manager, tokenByAkSk and a",
        "  new-connection `requests.post` on every call; no validation model.",
        "- **floor** (`bench/contenders/floor`): forwards the body over one pooled session with a fixed token.",
        "- **hello** (`bench/contenders/hello`): functions-framework hello-world, the cold-start anchor.",
        f"- **{UPSTREAM}**: wrk straight at the simulator's deleteCalledRoute: the ceiling all contenders share.",
        "- All served by `functions-framework --target ... --source .../main.py` (gunicorn, 1 worker,",
        "  4 threads per CPU, no `--debug`).",
        f"- Simulator `python -m cec_sim --keep-routes`, added latency {o['latency_ms']} ms per CEC call and",
        f"  {o['secrets_latency_ms']} ms per secret read; body `{config.LOAD_BODY.decode()}` (two deletable routes).",
        f"- Load: wrk, 1 thread, closed loop, {o['warmup']} s warm-up then {o['duration']} s per point;",
        f"  the contenders take turns at each concurrency, {o['rounds']} rounds, the fastest round of each point",
        "  is kept (other work on the machine only slows a point). Upstream calls per request are counted over",
        f"  {o['upstream_requests']} requests at concurrency 8 after the load, every answer waited for.",
        f"- Cold start: median of {o['cold_repeats']} starts per contender, taken in turns; the first request of",
        "  function, naive and floor is the same POST as under load.",
        *_import_method(o),
        "- Everything (wrk, simulator, contender, harness) shares the machine's CPUs over loopback:",
        "  see the contention table.",
        "",
        "## Targets",
        "",
        *verdict_table(verdicts),
        "",
        f"Cold-start allowance: 1.3 x hello-world ({run.cold['hello'].cold_s:.3f} s) + secret"
        f" ({o['secrets_latency_ms']} ms) + token and delete ({o['latency_ms']} ms each)"
        f" = {cold_allowance_s(run):.3f} s."
        if "hello" in run.cold
        else "",
        "",
        "## Figures",
        "",
        "`anchor` is hello-world for start-up figures and the simulator hit directly for load figures.",
        "Ratios are function divided by the other contender, measured in this same run.",
        "",
        *figures_table(run),
        "",
        *cold_path_section(run),
        *profile_sections(run),
        "## Contention",
        "",
        "CPU per served request of the contender's process tree and of the simulator, and the share of",
        "all CPUs busy during the point (wrk, the harness and anything else on the machine included).",
        "",
        *contention_table(run),
        "",
    ]
    if chart_name:
        lines += ["## Chart", "", f"![Throughput and latency per contender]({chart_name})", ""]
    if FINDINGS.exists():
        lines += [FINDINGS.read_text().rstrip(), ""]
    return "\n".join(lines)


def _import_method(o: Mapping[str, object]) -> list[str]:
    """How import times were taken; runs recorded before the option existed took 5 in blocks."""
    if "import_repeats" not in o:
        return ['- Import time of main: `python -X importtime -c "import main"`, median of 5 per contender.']
    return [
        f'- Import time of main: `python -X importtime -c "import main"`, median of {o["import_repeats"]} per'
        " contender,",
        "  taken in turns (this machine's timings switch between a fast and a slow mode for seconds at a time).",
    ]
