"""Run the CEC simulator and the fake Secret Manager until interrupted.

    python -m cec_sim --cec-port 8090 --secrets-port 8091 [--personality NAME]

The printed JSON names the URLs: ``cec`` (CEC_BASE_URL), ``cecToken`` (tokenByAkSk on the
second listener, for CEC_TOKEN_URL under the token-port personality) and ``secretManager``.

The fake Secret Manager starts with the simulator's AK/SK stored as
``projects/demo/secrets/cec-credentials`` (version 1, also ``latest``).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading

from cec_sim.cec import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, start_cec
from cec_sim.secret_manager import start_secret_manager
from cec_sim.variants import PERSONALITIES, help_text

DEMO_CREDENTIALS_SECRET = "projects/demo/secrets/cec-credentials"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cec_sim",
        description=__doc__.split("\n")[0],
        epilog='personalities (POST /_sim/config {"personality": NAME} switches; /_sim/reset restores'
        " the one given here):\n" + help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cec-port", type=int, default=8090)
    parser.add_argument("--token-port", type=int, default=0, help="the token-only listener (0: any free port)")
    parser.add_argument(
        "--personality", choices=list(PERSONALITIES), default="documented", metavar="NAME", help="see below"
    )
    parser.add_argument("--secrets-port", type=int, default=8091)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every CEC API call")
    parser.add_argument("--secrets-latency-ms", type=float, default=0.0, help="added to every secret read")
    parser.add_argument(
        "--keep-routes", action="store_true", help="answer deletions as done but keep the routes (benchmarks)"
    )
    args = parser.parse_args()

    cec = start_cec(args.cec_port, token_port=args.token_port, personality=args.personality)
    cec.state.config.latency = args.latency_ms / 1000
    cec.state.config.keep_routes = args.keep_routes
    secrets = start_secret_manager(args.secrets_port)
    state = secrets.httpd.state  # type: ignore[attr-defined]
    state.latency = args.secrets_latency_ms / 1000
    state.add_version(
        DEMO_CREDENTIALS_SECRET,
        json.dumps({"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET}).encode(),
    )
    print(json.dumps({"cec": cec.url, "cecToken": cec.token_url, "secretManager": secrets.url}), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    cec.stop()
    secrets.stop()


if __name__ == "__main__":
    main()
