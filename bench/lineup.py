"""The contenders of one run, configured against the run's simulator."""

from __future__ import annotations

import json
from pathlib import Path

from bench import config
from bench.procs import LOG_DIR, Contender, Simulator

CONTENDERS = config.BENCH / "contenders"


def credentials_file() -> Path:
    """The AK/SK as Cloud Run's secret volume shows them: a JSON file (CEC_CREDENTIALS_FILE)."""
    path = LOG_DIR / "cec-credentials.json"
    path.write_text(json.dumps({"app_key": config.APP_KEY, "app_secret": config.APP_SECRET}))
    return path


def api_keys_file() -> Path:
    """The API-keys secret as a mounted file (API_KEYS_FILE), as deployed with api_key callers."""
    path = LOG_DIR / "api-keys"
    path.write_text(f"bench={config.API_KEY}\n")
    return path


def lineup(sim: Simulator, token: str, function_source: Path = config.ROOT / "main.py") -> dict[str, Contender]:
    """function, naive and floor (the three compared), hello (the cold-start anchor), and
    function-sm: this function reading its AK/SK with google-cloud-secret-manager."""
    secrets = {"CEC_CREDENTIALS_SECRET": config.CREDENTIALS_SECRET, "SECRET_MANAGER_ENDPOINT": sim.secrets_url}
    function_env = {
        "CALLER_AUTH": "api_key",
        "API_KEYS_FILE": str(api_keys_file()),
        "CEC_BASE_URL": sim.cec_url,
        "GOOGLE_CLOUD_PROJECT": "bench",
        # The warm-path and cold targets are the high-volume setting: no lookup before a
        # plain dnids delete (the default's cost has its own figure: bench.default_lookup_cost).
        "CEC_LOOKUP_BEFORE_DELETE": "false",
    }
    return {
        # As Terraform and deploy.sh deploy it by default: the secret mounted as a file.
        "function": Contender(
            "function",
            function_source,
            "delete_called_route",
            {**function_env, "CEC_CREDENTIALS_FILE": str(credentials_file())},
        ),
        "function-sm": Contender("function-sm", function_source, "delete_called_route", {**secrets, **function_env}),
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
