"""Plan-token sizes for 10 to 5000 routes (figures in README, "Plan tokens").

    .venv/bin/python -m bench.plan_token_size

Routes shaped like the simulator's seeded ones: 19-digit ids, 10-digit access codes,
one-digit extensions, skill queues and IVRs.
"""

from __future__ import annotations

import time

from function.callers.plans import PlanSigner
from function.cec.lookup import RouteRecord


def routes(count: int) -> list[RouteRecord]:
    return [
        RouteRecord(
            id=str(1130000000000000000 + d * 7919),
            dnid=str(d),
            access_code=f"40080{d // 10:05d}",
            ext_code="" if d % 10 == 0 else str(d % 10),
            devicetype=1 if d % 4 != 2 else 3,
            device_id=d % 23 + 1,
            device_desc="salesQueue",
            media_type_id=5,
            editable="0",
        )
        for d in range(1, count + 1)
    ]


def main() -> None:
    signer = PlanSigner([b"x" * 32])
    print(f"{'routes':>7} {'token chars':>12} {'chars/route':>12} {'issue ms':>9} {'verify ms':>10}")
    for count in (1, 10, 100, 1000, 5000):
        records = routes(count)
        started = time.perf_counter()
        token, _ = signer.issue("api_key:ops", records, 900)
        issued = time.perf_counter()
        signer.verify(token, "api_key:ops")
        verified = time.perf_counter()
        print(
            f"{count:>7} {len(token):>12} {len(token) / count:>12.1f}"
            f" {(issued - started) * 1000:>9.2f} {(verified - issued) * 1000:>10.2f}"
        )


if __name__ == "__main__":
    main()
