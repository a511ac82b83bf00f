"""The contenders of one run, configured against the run's simulator."""

from __future__ import annotations

from pathlib import Path

from bench import config
from bench.procs import Contender, Simulator

CONTENDERS = config.BENCH / "contenders"


def lineup(sim: Simulator, token: str, function_source: Path = config.ROOT / "main.py") -> dict[str, Contender]:
    """function, naive and floor (the three compared), hello (the cold-start anchor)."""
    secrets = {"CEC_CREDENTIALS_SECRET": config.CREDENTIALS_SECRET, "SECRET_MANAGER_ENDPOINT": sim.secrets_url}
    return {
        "function": Contender(
            "function",
            function_source,
            "delete_called_route",
            {
                **secrets,
                "CALLER_AUTH": "api_key",
                "API_KEYS": config.API_KEY,
                "CEC_BASE_URL": sim.cec_url,
                "GOOGLE_CLOUD_PROJECT": "bench",
            },
        ),
        "naive": Contender(
            "naive",
            CONTENDERS / "naive" / "main.py",
            "delete_called_route",
            {**secrets, "API_KEY": config.API_KEY, "CEC_BASE_URL": sim.cec_url},
        ),
        "floor": Contender(
            "floor",
            CONTENDERS / "floor" / "main.py",
            "forward",
            {"CEC_BASE_URL": sim.cec_url, "FLOOR_TOKEN": token, "FLOOR_APP_KEY": config.APP_KEY},
        ),
        "hello": Contender("hello", CONTENDERS / "hello" / "main.py", "hello", {}, first_method="GET"),
    }
