#!/usr/bin/env python3
"""Sign a request the Standard Webhooks way and send it to the function.

The function (CALLER_AUTH=webhook) checks three headers:
  webhook-id         a unique message id
  webhook-timestamp  Unix seconds; more than 5 minutes off is refused
  webhook-signature  "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>"
The HMAC key is the base64 part of the secret "whsec_<base64>".

  export WEBHOOK_SECRET=whsec_...        # the value stored in Secret Manager
  python scripts/send_webhook.py https://FUNCTION-URI --dnids 4001,4002
  python scripts/send_webhook.py URL --dnids 4001 --print-only   # headers, no request
  python scripts/send_webhook.py --generate-secret               # a new whsec_ secret

Exit status: 0 on a 2xx answer, 1 on any other answer, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import uuid

PREFIX = "whsec_"


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for this message."""
    key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, body: bytes, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def body_for(dnids: str, as_list: bool) -> bytes:
    """Compact JSON, exactly the bytes that are signed and sent."""
    items = [d.strip() for d in dnids.split(",") if d.strip()]
    value: object = [int(d) for d in items] if as_list else ",".join(items)
    return json.dumps({"dnids": value}, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", help="the function URI")
    parser.add_argument("--dnids", help="comma list of DNIDs, e.g. 4001,4002")
    parser.add_argument("--as-list", action="store_true", help='send {"dnids": [1, 2]} instead of {"dnids": "1,2"}')
    parser.add_argument(
        "--secret", help="whsec_ secret (default: $WEBHOOK_SECRET; prefer the variable, argv is visible)"
    )
    parser.add_argument("--id", dest="msg_id", help="webhook-id; reuse one to retry the same message")
    parser.add_argument("--timeout", type=float, default=40.0, help="seconds to wait for the answer")
    parser.add_argument("--print-only", action="store_true", help="print headers and body, send nothing")
    parser.add_argument("--generate-secret", action="store_true", help="print a new whsec_ secret and exit")
    args = parser.parse_args(argv)

    if args.generate_secret:
        print(generate_secret())
        return 0
    secret = args.secret or os.environ.get("WEBHOOK_SECRET", "")
    if not secret.startswith(PREFIX):
        parser.error("a whsec_ secret is needed: set WEBHOOK_SECRET or pass --secret")
    if not args.dnids:
        parser.error("--dnids is required")
    if args.as_list and not all(d.strip().isdigit() for d in args.dnids.split(",") if d.strip()):
        parser.error("--as-list needs numeric DNIDs")
    body = body_for(args.dnids, args.as_list)
    try:
        headers = signed_headers(secret, body, args.msg_id)
    except ValueError:
        parser.error("the secret after whsec_ is not valid base64")

    if args.print_only:
        for name, value in headers.items():
            print(f"{name}: {value}")
        print()
        print(body.decode())
        return 0
    if not args.url:
        parser.error("the function URL is required unless --print-only")

    # Imported here so that signing (--print-only, --generate-secret) needs the standard library only.
    import requests  # noqa: PLC0415

    response = requests.post(args.url, data=body, headers=headers, timeout=args.timeout)
    print(f"HTTP {response.status_code}", file=sys.stderr)
    if "Retry-After" in response.headers:
        print(f"Retry-After: {response.headers['Retry-After']}", file=sys.stderr)
    print(response.text)
    return 0 if 200 <= response.status_code < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
