"""What the load run found, pinned down as deterministic regression tests.

The full load run (``python -m tests.load.run_load``) once reported protected routes as
``already_absent`` while they still existed. The cause was the lookup, not the load:
paging through queryCalledRoute by ``offset`` while other callers delete routes that
sort before the current offset moves every later record up, so the first ones of the
next page were never read, and a route never read counted as gone. function/cec/lookup.py
now overlaps pages and starts over when the listing shrank more than the overlap.

Here the "other caller" is made deterministic: the simulator's store deletes 200 low
routes just before it answers the first page at offset 1000 or beyond, exactly what
concurrent requests do at random under load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cec_sim import SimulatorControl

FIRST = 1000
COUNT = 1000
TARGET = 1950  # well past offset 1000, so 200 deletions below it move it onto a page already read


@pytest.fixture
def shifting_pages(sim: SimulatorControl, sim_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes FIRST.. FIRST+COUNT; 200 of the lowest vanish while a scan is past them."""
    sim.add_routes(COUNT, FIRST)
    store = sim_server.httpd.state.store
    real_query = store.query
    done: list[bool] = []

    def query(filters: dict[str, Any], offset: int, limit: int) -> tuple[int, list[Any]]:
        if offset >= 1000 and not done:
            done.append(True)
            store.delete(list(range(FIRST, FIRST + 200)))  # another caller's deletions
        return real_query(filters, offset, limit)  # type: ignore[no-any-return]

    monkeypatch.setattr(store, "query", query)


@pytest.mark.usefixtures("shifting_pages")
def test_a_refused_route_is_not_reported_gone_when_pages_shift(post: Callable[..., Any], sim: SimulatorControl) -> None:
    sim.update_route(TARGET, editable="2")
    # The unknown dnid makes the answer unclean, so the function looks both up.
    response = post({"dnids": [TARGET, 900001]})
    outcomes = {r["dnid"]: r["outcome"] for r in response.get_json()["results"]}
    assert any(r["dnid"] == TARGET for r in sim.routes())  # the simulator refused it
    assert outcomes[str(TARGET)] == "protected", outcomes


@pytest.mark.usefixtures("shifting_pages")
def test_a_route_selected_by_id_is_found_when_pages_shift(post: Callable[..., Any], sim: SimulatorControl) -> None:
    record_id = next(r["id"] for r in sim.routes() if r["dnid"] == TARGET)
    response = post({"ids": [record_id]})
    body = response.get_json()
    still_there = any(r["dnid"] == TARGET for r in sim.routes())
    outcome = body["results"][0]["outcome"]
    # Either it was found and deleted, or it is not claimed gone.
    assert not (still_there and outcome in ("deleted", "already_absent")), body
