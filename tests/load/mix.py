"""The request mix: which logical requests the callers send, in which order, and
which routes each may delete."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.load.routes import GHOST_ID, GHOST_START, HOTLINE_EXTENSIONS, Route, hotline_code


@dataclass(frozen=True)
class Job:
    """One logical request of one simulated caller (a workflow run)."""

    index: int
    kind: str  # dnids | ids | routes | invalid, with " dry run" appended for dry runs
    body: dict[str, Any]
    key: str
    targets: frozenset[int]  # the routes this request may delete (none for dry runs)
    replay_check: bool = False
    twin: bool = False  # sent twice at once with the same key (a duplicated delivery)


def plan_jobs(count: int, routes: dict[int, Route], hotlines: int, rng: random.Random) -> list[Job]:
    """The requests, in order. A window sweeps through the dnids as the run goes on, so
    neighbouring requests overlap (the same routes asked for by several callers at
    once) while deletions keep happening until the end."""
    order = sorted(routes)
    window = max(8, len(order) // 40)
    jobs: list[Job] = []
    made: list[Job] = []  # earlier non-dry deletions, for repeats
    scheduled = scheduled_body(routes)

    def near() -> list[int]:
        center = int(len(jobs) / count * len(order))
        return order[max(0, center - window) : center + window]

    while len(jobs) < count:
        index = len(jobs)
        key = f"load-{index:05d}"
        roll = rng.random()
        if roll < 0.03:
            # A scheduled job that keeps asking for protected routes spread over the
            # whole table, plus one that never existed: every run refuses them and
            # looks them all up again while other callers delete routes before them.
            targets = frozenset(int(d) for d in scheduled["dnids"].split(","))
            jobs.append(Job(index, "dnids (scheduled)", scheduled, key, targets))
            continue
        if roll < 0.08 and made:
            # The same job run again later (a second workflow run): a new key.
            earlier = rng.choice(made[-50:])
            jobs.append(Job(index, earlier.kind, earlier.body, key, earlier.targets))
            continue
        if roll < 0.09:
            jobs.append(Job(index, "invalid", invalid_body(rng), key, frozenset()))
            continue
        selector = rng.choices(["dnids", "ids", "routes"], weights=[80, 10, 10])[0]
        body, targets = selector_body(selector, near(), order, routes, hotlines, rng)
        if roll < 0.18:
            jobs.append(Job(index, selector + " dry run", {**body, "dryRun": True}, key, frozenset()))
            continue
        if roll < 0.21 and len(jobs) + 2 <= count:
            # A duplicated delivery: the same key and body twice, at the same time.
            jobs.append(Job(index, selector, body, key, targets, twin=True))
            jobs.append(Job(index + 1, selector, body, key, targets, twin=True))
            continue
        job = Job(index, selector, body, key, targets, replay_check=roll > 0.96)
        jobs.append(job)
        made.append(job)
    return jobs


def scheduled_body(routes: dict[int, Route]) -> dict[str, Any]:
    protected = sorted(d for d, r in routes.items() if r.protected)
    spread = protected[:: max(1, len(protected) // 10)][:10]
    return {"dnids": ",".join(str(d) for d in [*spread, GHOST_START + 999])}


def selector_body(
    selector: str, near: list[int], order: list[int], routes: dict[int, Route], hotlines: int, rng: random.Random
) -> tuple[dict[str, Any], frozenset[int]]:
    if selector == "dnids":
        picks = rng.sample(near, min(len(near), rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10])))
        if rng.random() < 0.1:
            # A route from anywhere: a late caller, or one far ahead of the others.
            picks = list(dict.fromkeys([*picks, rng.choice(order)]))
        values: list[int] = list(picks)
        if rng.random() < 0.1:
            values.append(GHOST_START + rng.randrange(100))
        style = rng.random()
        body: dict[str, Any]
        if style < 0.45:
            body = {"dnids": ",".join(map(str, values))}
        elif style < 0.55:
            # Whitespace, leading zeros and a duplicate: the parser's job.
            body = {"dnids": " , ".join([f"00{values[0]}", *map(str, values)])}
        else:
            body = {"dnids": [v if rng.random() < 0.5 else str(v) for v in values]}
        return body, frozenset(picks)
    if selector == "ids":
        picks = rng.sample(near, min(len(near), rng.randint(1, 4)))
        if rng.random() < 0.1:
            picks = list(dict.fromkeys([*picks, rng.choice(order)]))
        ids = [routes[d].id for d in picks]
        if rng.random() < 0.1:
            ids.append(GHOST_ID)
        return {"ids": ids}, frozenset(picks)
    selectors: list[dict[str, str]] = []
    targets: set[int] = set()
    for _ in range(rng.randint(1, 2)):
        choice = rng.random()
        if choice < 0.5:
            code = hotline_code(rng.randrange(hotlines))
            if rng.random() < 0.5:
                selectors.append({"accessCode": code})
                targets.update(d for d, r in routes.items() if r.access_code == code)
            else:
                ext = str(rng.randint(1, HOTLINE_EXTENSIONS))
                selectors.append({"accessCode": code, "extCode": ext})
                targets.update(d for d, r in routes.items() if r.access_code == code and r.ext_code == ext)
        elif choice < 0.95:
            route = routes[rng.choice(near)]
            selectors.append({"accessCode": route.access_code, "extCode": route.ext_code})
            targets.update(
                d for d, r in routes.items() if (r.access_code, r.ext_code) == (route.access_code, route.ext_code)
            )
        else:
            selectors.append({"accessCode": "79999999"})  # matches nothing: notFound
    return {"routes": selectors}, frozenset(targets)


def invalid_body(rng: random.Random) -> dict[str, Any]:
    return rng.choice(
        [
            {"dnids": "1127983948544239618"},  # a record id where a dnid belongs
            {"dnids": "12,,13"},
            {"dnids": []},
            {"dnids": "5", "ids": ["1127983948544239618"]},
            {"routes": [{"accessCode": ""}]},
        ]
    )
