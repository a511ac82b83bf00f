"""The simulator's called routes: seeded data and the API's operations on it."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

# editable: "0"/None editable and deletable, "1" deletable only, "2" not deletable,
# "3" neither (reference section 3).
UNDELETABLE = frozenset({"2", "3"})


@dataclass
class Route:
    id: str
    dnid: int
    accessCode: str
    extCode: str
    devicetype: int
    deviceId: int
    deviceDesc: str
    mediatypeId: int | None
    editable: str | None

    @property
    def name(self) -> str:
        # The API glues the two together without a separator.
        return self.accessCode + self.extCode

    @property
    def deletable(self) -> bool:
        return self.editable not in UNDELETABLE

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        # The official example spells it mediatypeId, the request docs mediaTypeId:
        # every fifth record uses the other spelling so clients must read both.
        if self.dnid % 5 == 0:
            record["mediaTypeId"] = record.pop("mediatypeId")
        return record


def _seed_routes() -> list[Route]:
    """Routes a real tenant might have: the reference's own examples first."""
    rng = random.Random(20261126)
    routes = [
        Route("1127983948544239618", 1, "9911411", "", 1, 1, "defaultVideoSkill", None, "0"),
        Route("1127986019188238339", 2, "9911411", "1", 1, 1, "defaultVideoSkill", 19, "0"),
        Route("1125397061153369092", 3, "9911411", "11", 1, 1, "defaultVideoSkill", 19, "0"),
        # 99114111 + "" has the same name as 9911411 + "1": the ambiguity of names.
        Route("1127986019188238340", 4, "99114111", "", 3, 7, "mainMenuIVR", 5, None),
        Route("1127986019188238341", 5, "4008001000", "", 3, 7, "mainMenuIVR", 5, "1"),
        Route("1127986019188238342", 6, "4008001000", "2", 1, 2, "billingQueue", 5, "2"),
        Route("1127986019188238343", 7, "4008001000", "3", 1, 3, "complaintsQueue", 5, "3"),
    ]
    descs = [(1, "salesQueue"), (1, "supportQueue"), (3, "afterHoursIVR"), (1, "vipQueue")]
    media = [5, 2, 18, 19, 53, None]
    for dnid in range(8, 161):
        devicetype, desc = descs[dnid % len(descs)]
        access = f"40080{dnid // 10:05d}"
        ext = "" if dnid % 10 == 0 else str(dnid % 10)
        editable = rng.choice(["0", "0", "0", "1", None])
        routes.append(
            Route(
                str(1130000000000000000 + dnid * 7919),
                dnid,
                access,
                ext,
                devicetype,
                dnid % 23 + 1,
                desc,
                media[dnid % len(media)],
                editable,
            )
        )
    return routes


class RouteStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[int, Route] = {}
        # Routes in dnid order, rebuilt only after a change: sorting 40,000 routes on
        # every query made the bulk tests slow enough to run out of their time budget.
        self._ordered: list[Route] | None = None
        self.deleted_log: list[int] = []
        self.reset()

    def _changed(self) -> None:
        self._ordered = None

    def _in_order(self) -> list[Route]:
        if self._ordered is None:
            self._ordered = sorted(self._routes.values(), key=lambda r: r.dnid)
        return self._ordered

    def reset(self, routes: list[Route] | None = None) -> None:
        with self._lock:
            self._routes = {r.dnid: r for r in (routes if routes is not None else _seed_routes())}
            self._changed()
            self.deleted_log = []
            # Dnids are not handed out twice unless reuse_dnids asks for it.
            self._highest = max(self._routes, default=0)
            self._created = 0

    def add_many(self, count: int, start_dnid: int, access_code: str | None = None) -> list[int]:
        """Add ``count`` plain deletable routes from ``start_dnid`` (bulk tests). With
        ``access_code`` they are all extensions (1, 2, ...) of that one hotline."""
        with self._lock:
            dnids = list(range(start_dnid, start_dnid + count))
            for position, dnid in enumerate(dnids, start=1):
                access, ext = (access_code, str(position)) if access_code else (f"5{dnid:09d}", "")
                self._routes[dnid] = Route(
                    str(1140000000000000000 + dnid), dnid, access, ext, 1, 1, "bulkQueue", 5, "0"
                )
            self._changed()
            return dnids

    def update(self, dnid: int, changes: dict[str, Any]) -> Route | None:
        """Change fields of one route (e.g. editable), for tests of protected routes."""
        with self._lock:
            route = self._routes.get(dnid)
            if route is not None:
                for name, value in changes.items():
                    if name in Route.__dataclass_fields__ and name not in ("dnid", "id"):
                        setattr(route, name, value)
            return route

    def all(self) -> list[Route]:
        with self._lock:
            return list(self._in_order())

    def get(self, dnid: int) -> Route | None:
        with self._lock:
            return self._routes.get(dnid)

    def delete(self, dnids: list[int], *, keep: bool = False) -> tuple[list[Route], list[Route]]:
        """Delete what can be deleted; return (deleted, refused). Unknown dnids are neither.

        ``keep`` answers as if deleted but keeps the routes, so that a benchmark can
        send the same request over and over."""
        deleted: list[Route] = []
        refused: list[Route] = []
        with self._lock:
            for dnid in dict.fromkeys(dnids):
                route = self._routes.get(dnid)
                if route is None:
                    continue
                if route.deletable:
                    deleted.append(route if keep else self._routes.pop(dnid))
                    if not keep:
                        self.deleted_log.append(dnid)
                        self._changed()
                else:
                    refused.append(route)
        return deleted, refused

    def create(
        self, access_code: str, ext_code: str, devicetype: int, device_id: int, media: int | None, *, reuse_dnids: bool
    ) -> Route | None:
        """A new route, or None when the access code and extension are taken. The target's
        name comes from a route that already uses it, as the tenant would show it."""
        with self._lock:
            if any(r.accessCode == access_code and r.extCode == ext_code for r in self._routes.values()):
                return None
            if reuse_dnids:
                dnid = next(d for d in range(1, len(self._routes) + 2) if d not in self._routes)
            else:
                self._highest = max(self._highest, max(self._routes, default=0)) + 1
                dnid = self._highest
            self._created += 1
            desc = next(
                (r.deviceDesc for r in self._routes.values() if (r.devicetype, r.deviceId) == (devicetype, device_id)),
                "created",
            )
            route = Route(
                str(1150000000000000000 + self._created),
                dnid,
                access_code,
                ext_code,
                devicetype,
                device_id,
                desc,
                media,
                "0",
            )
            self._routes[dnid] = route
            self._changed()
            return route

    def query(self, filters: dict[str, Any], offset: int, limit: int) -> tuple[int, list[Route]]:
        """The total ``filters`` select and ``limit`` of them from record ``offset``, in dnid order."""
        routes = self.listing(filters)
        return len(routes), routes[offset : offset + limit]

    def listing(self, filters: dict[str, Any]) -> list[Route]:
        """The listing ``filters`` select, in dnid order. Filter like the real server:
        loosely. extCode matches by prefix, on purpose, as the official example returns
        extCodes other than the one asked for."""
        with self._lock:
            routes = self._in_order()
        access = filters.get("accessCode")
        ext = filters.get("extCode")
        devicetype = filters.get("devicetype")
        media = filters.get("mediaTypeId", filters.get("mediatypeId"))
        desc = filters.get("deviceDesc")
        if access:
            routes = [r for r in routes if r.accessCode == str(access)]
        if ext:
            routes = [r for r in routes if str(ext).startswith(r.extCode) or r.extCode.startswith(str(ext))]
        if devicetype not in (None, ""):
            routes = [r for r in routes if str(r.devicetype) == str(devicetype)]
        if media not in (None, ""):
            routes = [r for r in routes if str(r.mediatypeId) == str(media)]
        if desc:
            routes = [r for r in routes if str(desc).lower() in r.deviceDesc.lower()]
        return routes
