"""Clients for the control endpoints, used by the tests, the demo and the benchmarks."""

from __future__ import annotations

from typing import Any

import requests


class SimulatorControl:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = requests.Session()

    def _post(self, path: str, body: Any) -> Any:
        response = self._http.post(self.base_url + path, json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def _get(self, path: str) -> Any:
        response = self._http.get(self.base_url + path, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/_sim/reset", {})

    def configure(self, **settings: Any) -> None:
        self._post("/_sim/config", settings)

    def personality(self, name: str, **settings: Any) -> None:
        """Switch to personality ``name`` (cec_sim.variants), then apply ``settings``."""
        self._post("/_sim/config", {"personality": name, **settings})

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self._get("/_sim/config")["config"]
        return config

    def token_url(self) -> str:
        """tokenByAkSk on the simulator's token-only listener."""
        url: str = self._get("/_sim/config")["tokenUrl"]
        return url

    def inject(self, *rules: dict[str, Any]) -> None:
        self._post("/_sim/faults", {"rules": list(rules)})

    def clear_faults(self) -> None:
        self._http.delete(self.base_url + "/_sim/faults", timeout=5).raise_for_status()

    def calls(self, stage: str | None = None) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._get("/_sim/calls")["calls"]
        return [c for c in calls if stage is None or c["stage"] == stage]

    def clear_calls(self) -> None:
        self._http.delete(self.base_url + "/_sim/calls", timeout=5).raise_for_status()

    def routes(self) -> list[dict[str, Any]]:
        routes: list[dict[str, Any]] = self._get("/_sim/routes")["routes"]
        return routes

    def add_routes(self, count: int, start: int, access_code: str | None = None) -> None:
        self._post("/_sim/routes", {"count": count, "start": start, "accessCode": access_code})

    def update_route(self, dnid: int, **changes: Any) -> None:
        self._post("/_sim/routes/update", {"dnid": dnid, "changes": changes})

    def create_route(self, app_key: str, app_secret: str, **body: Any) -> dict[str, Any]:
        """createCalledRoute through the API itself, as a tenant's other tools would."""
        token = self._post("/apigovernance/api/oauth/tokenByAkSk", {"app_key": app_key, "app_secret": app_secret})
        response = self._http.post(
            self.base_url + "/apiaccess/rest/cc-management/v1/calledRoute/createCalledRoute",
            json=body,
            headers={"Authorization": f"Bearer {token['AccessToken']}", "X-APP-Key": app_key},
            timeout=5,
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def deleted(self) -> list[int]:
        deleted: list[int] = self._get("/_sim/deleted")["deleted"]
        return deleted

    def tokens(self) -> list[str]:
        tokens: list[str] = self._get("/_sim/tokens")["tokens"]
        return tokens

    def advance_clock(self, seconds: float) -> None:
        self._post("/_sim/clock", {"advance": seconds})


class FakeSecretManagerControl:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = requests.Session()

    def _post(self, path: str, body: Any) -> Any:
        response = self._http.post(self.base_url + path, json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/_fake/reset", {})

    def add_version(self, secret: str, data: str) -> int:
        """Add a version to ``secret`` (``projects/P/secrets/S``); returns its number."""
        version: int = self._post("/_fake/secrets", {"secret": secret, "data": data})["version"]
        return version

    def inject(self, *rules: dict[str, Any]) -> None:
        self._post("/_fake/faults", {"rules": list(rules)})

    def clear_faults(self) -> None:
        self._http.delete(self.base_url + "/_fake/faults", timeout=5).raise_for_status()

    def configure(self, latency: float) -> None:
        self._post("/_fake/config", {"latency": latency})

    def calls(self) -> list[str]:
        response = self._http.get(self.base_url + "/_fake/calls", timeout=5)
        response.raise_for_status()
        calls: list[str] = response.json()["calls"]
        return calls
