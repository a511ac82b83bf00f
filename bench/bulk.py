"""Wall time of one request carrying 10,000 dnids, and how many delete calls it took."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import requests

from bench import config
from bench.results import Bulk
from cec_sim import SimulatorControl


def body(count: int) -> bytes:
    dnids = ",".join(str(d) for d in range(config.BULK_START, config.BULK_START + count))
    return json.dumps({"dnids": dnids}).encode()


def measure(url: str, headers: dict[str, str], sim: SimulatorControl, count: int, repeats: int) -> Bulk:
    payload = body(count)
    times: list[float] = []
    calls = deleted = status = 0
    for _ in range(repeats):
        sim.clear_calls()
        started = time.perf_counter()
        response = requests.post(url, data=payload, headers=headers, timeout=120)
        times.append(time.perf_counter() - started)
        calls = len(sim.calls("delete"))
        status = response.status_code
        deleted = deleted_count(_json_or_none(response))
    sim.clear_calls()
    return Bulk(seconds=statistics.median(times), delete_calls=calls, deleted=deleted, http_status=status)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def deleted_count(answer: Any) -> int:
    """Routes reported deleted, whatever the contender's answer looks like."""
    if isinstance(answer, list):  # floor: one API envelope per chunk
        return sum(deleted_count(item) for item in answer)
    if not isinstance(answer, dict):
        return 0
    if isinstance(answer.get("deleted"), list):  # this function's normalised answer
        return len(answer["deleted"])
    data = answer.get("data")  # a raw API envelope (naive, floor)
    if answer.get("returnCode") == "0" and isinstance(data, dict) and data.get("name"):
        return len(str(data["name"]).split(","))
    return 0
