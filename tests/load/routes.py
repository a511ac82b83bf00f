"""The routes the simulator is seeded with, and a snapshot of them before the run."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cec_sim.client import FakeSecretManagerControl, SimulatorControl
from tests.load.config import CANARY_AK, CANARY_SK, CANARY_TOKEN_PREFIX, CREDENTIALS_SECRET, SIM_TOKEN_LIFETIME

POOL_START = 1000  # plain deletable routes: dnids POOL_START ...
HOTLINE_START = 20000  # hotlines with several extensions each
HOTLINE_EXTENSIONS = 6
GHOST_START = 900000  # dnids that never exist (answered already_absent)
GHOST_ID = "1999999999999999999"  # a well-formed record id that never exists


@dataclass(frozen=True)
class Route:
    dnid: int
    id: str
    access_code: str
    ext_code: str
    editable: str | None

    @property
    def protected(self) -> bool:
        return self.editable in ("2", "3")


def seed(sim: SimulatorControl, secrets: FakeSecretManagerControl, requests_count: int) -> tuple[int, int]:
    """Routes and canary credentials; returns (pool size, hotline count)."""
    sim.reset()
    sim.configure(
        app_key=CANARY_AK, app_secret=CANARY_SK, token_prefix=CANARY_TOKEN_PREFIX, token_lifetime=SIM_TOKEN_LIFETIME
    )
    secrets.add_version(CREDENTIALS_SECRET, json.dumps({"app_key": CANARY_AK, "app_secret": CANARY_SK}))
    # Sized to the run: each route is asked for about a dozen times, and a full
    # queryCalledRoute scan stays in the tens of pages.
    pool = max(60, requests_count // 4)
    hotlines = max(4, requests_count // 250)
    sim.add_routes(pool, POOL_START)
    for number in range(hotlines):
        sim.add_routes(HOTLINE_EXTENSIONS, HOTLINE_START + number * 10, hotline_code(number))
    # Protected routes spread through the dnid range: the simulator refuses them, and
    # a lookup that skipped one would report a route gone that is still there.
    for dnid in range(POOL_START + 7, POOL_START + pool, 23):
        sim.update_route(dnid, editable="2" if dnid % 2 else "3")
    for number in range(0, hotlines, 3):
        sim.update_route(HOTLINE_START + number * 10 + 2, editable="2")  # extension "3"
    return pool, hotlines


def hotline_code(number: int) -> str:
    return f"66{number:05d}"


def snapshot(sim: SimulatorControl) -> dict[int, Route]:
    return {
        int(r["dnid"]): Route(int(r["dnid"]), str(r["id"]), str(r["accessCode"]), str(r["extCode"]), r.get("editable"))
        for r in sim.routes()
    }
