"""Probe a CEC tenant, read only: how it answers what the vendor's documentation leaves open.

    .venv/bin/python scripts/probe_tenant.py                 # a short report
    .venv/bin/python scripts/probe_tenant.py --json          # the same, for machines
    .venv/bin/python scripts/probe_tenant.py --check-token-revocation

Run it once, with the function's own settings in the environment (``CEC_BASE_URL``,
``CEC_TOKEN_URL``, ``CEC_CREDENTIALS_FILE`` / ``CEC_CREDENTIALS_SECRET`` /
``CEC_APP_KEY`` + ``CEC_APP_SECRET``, ``CEC_APP_KEY_HEADER``, ``CEC_TIMEOUT_SECONDS``),
before the function's first real deletion. It calls tokenByAkSk and queryCalledRoute
only: it never deletes or creates anything. It measures the token (URL, lifetime from
``Expires``), what ``X-APP-Key`` the tenant wants, how an unusable token is answered,
what ``offset`` means, whether the listing order is stable, the record fields' types and
spellings, throttling, and the latency of each call; then it recommends settings.

Its own token is a new token for the app: on a tenant where a new token revokes the
older ones, that alone revokes the running function's token (the function renews it
once and retries). ``--check-token-revocation`` gets a second token on purpose to find
out whether that is so.

Exit status:
  0  the function handles this tenant with these settings (recommendations are advice)
  1  it does not: offsets that are page numbers (or anything but page or record
     offsets), an unstable order on a listing of more than one page, records without a
     usable dnid, or an X-APP-Key setting the tenant refuses (the report names the
     setting to change; when no variant is accepted, ask operations for the user id)
  2  usage or configuration error (the CEC API was not called)
  3  the tenant could not be reached or would not authenticate (token URL, AK/SK,
     service unavailable), or the call limit stopped the probe
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from function import redact
from function.budget import Deadline
from function.cec.bounded import bounded_int
from function.cec.credentials import CredentialProvider
from function.errors import FunctionError
from function.http_deadline import DeadlineAdapter, deadline
from function.secret_manager import SecretReader
from function.settings import Settings, load_settings

QUERY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
PAGE = 100
MAX_CALLS = 40
MAX_TIMEOUT_SECONDS = 30.0
MAX_CLOCK_SKEW_SECONDS = 300  # the function's own bound for believing CreateTime
THROTTLE_BACKOFF_SECONDS = (0.5, 1.0)  # one wait per retry of a throttled call
WRONG_APP_KEY = "probe-not-the-app-key"
UNUSABLE_TOKEN = "probe-unusable-token-0000000000000000"
EDITABLE_VALUES = {"0", "1", "2", "3", None}
FIELDS = ("id", "dnid", "accessCode", "extCode", "devicetype", "deviceId", "deviceDesc", "mediatypeId", "mediaTypeId")
MAX_NUMBER = 2**63 - 1  # as the function's parser: larger dnids, totals and times are not believed
HANDLED, UNHANDLED, USAGE, UNREACHABLE = 0, 1, 2, 3


class Stop(Exception):
    """The probe cannot go on; ``code`` is its exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Answer:
    status: int | None  # None: no answer at all
    body: Any = None  # the JSON, or None
    error: str = ""  # why there was no usable answer

    @property
    def kind(self) -> str:
        """ok | token (refused token) | forbidden | throttled | not_found | unavailable | other."""
        body = self.body if isinstance(self.body, dict) else {}
        code = str(body.get("error_code", ""))
        if self.status is None:
            return "unavailable"
        if code == "APIG.0308" or self.status == 429:
            return "throttled"
        if code == "APIG.0307":
            return "token"
        if self.status == 200 and str(body.get("returnCode")) == "0" and isinstance(body.get("data"), dict):
            return "ok"
        if self.status in (401, 403):
            return "forbidden"
        if self.status == 404:
            return "not_found"
        if self.status >= 500:
            return "unavailable"
        return "other"

    def describe(self) -> str:
        """One line for the report; upstream text is masked (the function's secret mask) before it is cut."""
        if self.status is None:
            return f"no answer ({self.error})"
        body = self.body if isinstance(self.body, dict) else None
        if body is None:
            return f"HTTP {self.status}, {self.error or 'no JSON body'}"
        if "error_code" in body:
            return f"HTTP {self.status} {_text(body.get('error_code'), 20)} {_text(body.get('error_msg'))!r}"
        return f"HTTP {self.status} returnCode {_text(body.get('returnCode'), 20)!r} {_text(body.get('description'))!r}"


def _text(value: Any, limit: int = 60) -> str:
    return redact.mask("" if value is None else str(value))[:limit]


@dataclass
class Probe:
    settings: Settings
    app_key: str
    app_secret: str
    header: str  # the X-APP-Key setting: app-key | omit | user-id:<id>
    timeout: float
    max_calls: int = MAX_CALLS
    session: requests.Session = field(default_factory=requests.Session)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    throttled: list[Answer] = field(default_factory=list)
    calls: int = 0

    # HTTP

    def post(self, what: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        """One call (retried after a wait while throttled), timed and counted."""
        for attempt in range(len(THROTTLE_BACKOFF_SECONDS) + 1):
            if self.calls >= self.max_calls:
                raise Stop(UNREACHABLE, f"stopped at the probe's limit of {self.max_calls} calls")
            self.calls += 1
            started = time.monotonic()
            answer = self._send(url, body, headers)
            self.latencies.setdefault(what, []).append((time.monotonic() - started) * 1000)
            if answer.kind != "throttled":
                return answer
            self.throttled.append(answer)
            if attempt < len(THROTTLE_BACKOFF_SECONDS):
                time.sleep(THROTTLE_BACKOFF_SECONDS[attempt])
        return answer

    def __post_init__(self) -> None:
        # The function's bounds on a call, not its client: a wall-clock deadline for the
        # whole answer (a dripping upstream cannot hold the probe) and a size cap.
        adapter = DeadlineAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _send(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        try:
            with deadline(self.timeout):
                response = self.session.post(
                    url, json=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
                raw = response.content
        except requests.RequestException as exc:
            return Answer(None, error=type(exc).__name__)
        try:
            return Answer(response.status_code, json.loads(raw))
        except ValueError:
            return Answer(response.status_code, error="not JSON")

    def token(self) -> tuple[Answer, str | None]:
        headers = {"X-Token-Expire": str(self.settings.cec_token_ttl_seconds)}
        answer = self.post(
            "token", self.settings.token_url, {"app_key": self.app_key, "app_secret": self.app_secret}, headers
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        access = body.get("AccessToken") if answer.status == 200 else None
        if not isinstance(access, str) or not access:
            return answer, None
        redact.register("cec_token", [access])
        return answer, access

    def headers(self, token: str, header: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        value = {"app-key": self.app_key, "omit": None, "wrong": WRONG_APP_KEY}.get(
            header, header.removeprefix("user-id:")
        )
        if value is not None:
            headers["X-APP-Key"] = value
        return headers

    def query(self, token: str, header: str, offset: int, limit: int = PAGE) -> Answer:
        body = {"offset": offset, "limit": limit}
        return self.post("query", self.settings.api_base_url + QUERY_PATH, body, self.headers(token, header))


def listing(answer: Answer) -> tuple[Any, list[dict[str, Any]]]:
    """data.total and the records of a query answer; Stop(3) if it is not a page."""
    if answer.kind != "ok":
        raise Stop(UNREACHABLE, f"queryCalledRoute answered no usable page ({answer.describe()})")
    data = answer.body["data"]
    records = data.get("calledRouteList")
    return data.get("total"), [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def keys(records: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("dnid", r.get("id"))) for r in records]


def json_type(value: Any, present: bool = True) -> str:
    if not present:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def number(value: Any) -> int | None:
    """A JSON number or digit string, read with the function's bounded parser (else None)."""
    return bounded_int(value, low=0, high=MAX_NUMBER)


def usable_dnid(value: Any) -> bool:
    return bool(number(value))


@dataclass
class Report:
    tenant: dict[str, Any] = field(default_factory=dict)  # what was observed, by variant
    lines: list[tuple[str, str]] = field(default_factory=list)  # (check, finding) for people
    problems: list[str] = field(default_factory=list)  # what the function cannot handle
    advice: list[str] = field(default_factory=list)
    recommended: dict[str, str] = field(default_factory=dict)

    def line(self, check: str, finding: str) -> None:
        self.lines.append((check, finding))


def run(probe: Probe, report: Report, check_revocation: bool) -> None:
    token = check_token(probe, report)
    working, first = check_app_key(probe, report, token)
    if working is None:
        return
    check_unusable_token(probe, report, working)
    records = check_paging(probe, report, token, working, first)
    if records is None:
        return
    check_fields(report, records)
    check_media_filter(probe, report, token, working, records)
    report.tenant["token_mode"] = "unchecked"
    if check_revocation:
        check_token_revocation(probe, report, token, working)


def check_token(probe: Probe, report: Report) -> str:
    """tokenByAkSk: the URL, the credentials, the lifetime (read from Expires)."""
    settings = probe.settings
    answer, token = probe.token()
    if token is None:
        if answer.kind == "throttled":
            raise Stop(UNREACHABLE, f"tokenByAkSk stayed throttled ({answer.describe()}): try again later")
        if answer.kind == "not_found":
            report.tenant["token_url"] = "not_found"
            raise Stop(
                UNREACHABLE,
                f"the token URL {settings.token_url} answered 404: set CEC_TOKEN_URL to the tenant's tokenByAkSk URL"
                " (one variant of the docs serves it on port 28070 of the same host)",
            )
        if answer.status in (401, 403, 200):
            raise Stop(UNREACHABLE, f"tokenByAkSk refused the AK/SK ({answer.describe()}): check the credentials")
        raise Stop(UNREACHABLE, f"tokenByAkSk is not available ({answer.describe()})")
    body = answer.body
    report.tenant["token_url"] = "custom" if settings.cec_token_url else "default"
    report.recommended["CEC_TOKEN_URL"] = settings.cec_token_url or "(not needed: the default works)"
    expires = body.get("Expires")
    lifetime = number(expires)
    report.tenant["token_lifetime"] = lifetime
    report.tenant["token_field_types"] = {k: json_type(v) for k, v in body.items() if k != "AccessToken"}
    created = body.get("CreateTime")
    created_at = number(created)
    skew = None if created_at is None else created_at - int(time.time())
    report.tenant["clock_skew_seconds"] = skew
    asked = settings.cec_token_ttl_seconds
    report.line(
        "token",
        f"{settings.token_url} works; lifetime {lifetime if lifetime is not None else 'unreadable'} s"
        f" (Expires {expires!r}, asked {asked} s; the function renews from Expires), CreateTime - local clock:"
        f" {skew if skew is not None else 'unreadable'} s",
    )
    if skew is not None and abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        report.advice.append(
            f"the tenant's clock is {skew} s off ours: the function ignores CreateTime and counts Expires from its call"
        )
    return token


def check_app_key(probe: Probe, report: Report, token: str) -> tuple[str | None, Answer]:
    """Queries with the configured X-APP-Key (its answer is the first page), the app key,
    none and a wrong value; returns the header that works (None: none does) and that page."""
    tried = [probe.header] + [h for h in ("app-key", "omit", "wrong") if h != probe.header]
    answers: dict[str, Answer] = {}
    for header in tried:
        # Only a page or a refusal tells; anything else (no answer, 5xx, throttled) is asked once more.
        for _ in range(2):
            answers[header] = probe.query(token, header, 0, PAGE if header == probe.header else 1)
            if answers[header].kind in ("ok", "forbidden", "token"):
                break
        else:
            raise Stop(UNREACHABLE, f"queryCalledRoute answered no usable page ({answers[header].describe()})")
    accepted = {h for h, a in answers.items() if a.kind == "ok"}
    if "app-key" in accepted:
        mode = ("ignored" if "wrong" in accepted else "optional") if "omit" in accepted else "required"
    elif "omit" in accepted:
        mode = "rejected"
    elif probe.header.startswith("user-id:") and probe.header in accepted:
        mode = "user_id"
    else:
        mode = "unknown"
    report.tenant["app_key_header"] = mode
    report.line("X-APP-Key", f"{mode}: " + ", ".join(f"{h} -> {answers[h].describe()}" for h in tried))
    preferred = [probe.header, "app-key", "omit"]
    working = next((h for h in preferred if h in accepted), None)
    if working is None:
        report.problems.append(
            "no X-APP-Key variant was accepted (the app key, none, another value): the tenant may want the user id"
            " (ask operations, then set CEC_APP_KEY_HEADER=user-id:<id>)"
        )
        return None, answers[probe.header]
    report.recommended["CEC_APP_KEY_HEADER"] = working
    if working != probe.header:
        report.problems.append(
            f"the tenant refuses X-APP-Key as configured ({probe.header}): set CEC_APP_KEY_HEADER={working}"
        )
    return working, answers[probe.header]


def check_unusable_token(probe: Probe, report: Report, working: str) -> None:
    """How a token the gateway does not accept is answered (expired and revoked ones likely alike)."""
    refused = probe.query(UNUSABLE_TOKEN, working, 0, 1)
    apig = isinstance(refused.body, dict) and refused.body.get("error_code") == "APIG.0307"
    report.tenant["token_error"] = "apig" if apig else "status"
    report.tenant["token_error_status"] = refused.status
    report.line("bad token", refused.describe())
    if refused.kind == "ok":
        report.problems.append("a made-up token was accepted: the gateway does not check tokens as documented")


def check_paging(probe: Probe, report: Report, token: str, working: str, first: Answer) -> list[dict[str, Any]] | None:
    """Offsets 0 (twice), 90 and 100 with limit 100: the offset semantics and the order.
    Returns the records read, None when data.total is unusable."""
    first = first if first.kind == "ok" and working == probe.header else probe.query(token, working, 0)
    total, page0 = listing(first)
    _, page0_again = listing(probe.query(token, working, 0))
    total_int = number(total)
    report.tenant["total"] = total_int
    if total_int is None:
        report.problems.append(f"data.total is not a number ({total!r}): no lookup can tell it read everything")
        return None
    once, twice = keys(page0), keys(page0_again)
    if once == twice:
        order = "stable"
    elif any(twice[:-shift] == once[shift:] for shift in range(1, min(len(once), 20))):
        order = "rotating"  # the same order, shifted: the listing drifts between calls
    else:
        order = "shuffled"
    records, offsets = list(page0), "unknown"
    if total_int <= PAGE:
        report.line("offsets", f"could not tell: {total_int} routes fit one page (it takes more than {PAGE})")
    else:
        _, page1 = listing(probe.query(token, working, 100))
        _, page90 = listing(probe.query(token, working, 90))
        records += page1
        offsets = offset_mode(probe, token, working, total_int, (page0, page90, page1), order=order)
        report.line(
            "offsets", f"{offsets}: offset 90 -> {len(page90)} records, offset 100 -> {len(page1)} (total {total_int})"
        )
        seen = keys(page0) + keys(page1)
        duplicates = len(seen) - len(set(seen))
        if offsets in ("page", "record") and (duplicates or len(set(seen)) != min(total_int, 2 * PAGE)):
            order = "unstable" if order == "stable" else order
            report.line("pages", f"pages 0 and 1: {duplicates} records twice, {len(set(seen))} distinct")
        if offsets in ("page_index", "unknown"):
            report.problems.append(
                f"offsets are {'page numbers' if offsets == 'page_index' else 'neither page nor record offsets'}:"
                " the function pages with offsets 0, 100, 200 ... and would report every lookup incomplete"
            )
        if order != "stable":
            report.problems.append(
                f"the listing order is not stable ({order}) over {total_int} routes: lookups of more than one page"
                " cannot prove they read everything and are reported incomplete"
            )
    report.tenant["offset_mode"] = offsets
    report.tenant["order"] = order
    report.line("order", f"{order}: the same page read twice {'matched' if once == twice else 'differed'}")
    return records


def offset_mode(
    probe: Probe, token: str, working: str, total: int, pages: tuple[list[Any], list[Any], list[Any]], *, order: str
) -> str:
    """page (rounded down to a page), record, page_index (a page number) or unknown."""
    page0, page90, page1 = pages
    record_count_at_90 = min(PAGE, total - 90)
    if not page1 and not page90:
        _, page2 = listing(probe.query(token, working, 2))
        return "page_index" if page2 else "unknown"
    if len(page1) != min(PAGE, total - PAGE):
        return "unknown"
    if order == "stable" and keys(page90) == keys(page0):
        return "page"
    if order == "stable" and keys(page90) == (keys(page0)[90:] + keys(page1))[: len(page90)]:
        return "record"
    # An unstable order: the counts still tell while fewer than 100 records follow offset 90.
    if record_count_at_90 != PAGE and len(page90) in (PAGE, record_count_at_90):
        return "page" if len(page90) == PAGE else "record"
    return "unknown"


def check_fields(report: Report, records: list[dict[str, Any]]) -> None:
    """The JSON types and spellings of the record fields, the editable values."""
    types = {name: dict(Counter(json_type(r.get(name), name in r) for r in records)) for name in FIELDS}
    editable = Counter(str(r["editable"]) if r.get("editable") is not None else None for r in records)
    report.tenant["field_types"] = types
    report.tenant["editable_values"] = {str(k): v for k, v in editable.items()}
    spelling = {n: sum(1 for r in records if n in r) for n in ("mediatypeId", "mediaTypeId")}
    report.line(
        "fields",
        f"dnid {types['dnid']}, id {types['id']}, mediatypeId {spelling['mediatypeId']} / mediaTypeId"
        f" {spelling['mediaTypeId']} records, editable {dict(editable)}",
    )
    unusable = sum(1 for r in records if not usable_dnid(r.get("dnid")))
    if unusable:
        report.problems.append(f"{unusable} records have no usable dnid: the function cannot match or delete them")
    odd = sorted(str(v) for v in editable if v not in EDITABLE_VALUES)
    if odd:
        report.advice.append(f"editable values outside the documented 0-3: {odd}; the delete answer decides for them")


def check_media_filter(probe: Probe, report: Report, token: str, working: str, records: list[dict[str, Any]]) -> None:
    """Which spelling of the media type filter narrows the listing (the function filters
    locally and never sends either; this is for people who do)."""
    media = Counter(r.get("mediatypeId", r.get("mediaTypeId")) for r in records)
    value = next((m for m, _ in media.most_common() if isinstance(m, int) and not isinstance(m, bool)), None)
    total = report.tenant.get("total")
    if value is None or not isinstance(total, int) or media[value] >= total:
        report.line("media filter", "could not tell: no media type narrows this listing")
        return
    honoured = {}
    for spelling in ("mediaTypeId", "mediatypeId"):
        body = {spelling: value, "offset": 0, "limit": 1}
        answer = probe.post("query", probe.settings.api_base_url + QUERY_PATH, body, probe.headers(token, working))
        honoured[spelling] = answer.kind == "ok" and str(answer.body["data"].get("total")) != str(total)
    report.tenant["media_filter"] = honoured
    report.line("media filter", ", ".join(f"{k} {'narrows' if v else 'ignored'}" for k, v in honoured.items()))


def check_token_revocation(probe: Probe, report: Report, token: str, working: str) -> None:
    """Whether a new token revokes the older ones (opt-in: it may revoke the function's token)."""
    _, second = probe.token()
    if second is None:
        report.line("revocation", "could not get a second token")
        return
    old = probe.query(token, working, 0, 1)
    new = probe.query(second, working, 0, 1)
    single = old.kind != "ok" and new.kind == "ok"
    report.tenant["token_mode"] = "single" if single else "multi"
    report.line("revocation", f"older token after a new one: {old.describe()}; new token: {new.describe()}")
    if single:
        report.advice.append(
            "a new token revokes the older ones: instances revoke each other's tokens; the function renews"
            " once and retries, but keep the number of instances low"
        )


def summarize(probe: Probe, report: Report) -> None:
    report.tenant["throttle_status"] = probe.throttled[0].status if probe.throttled else None
    if probe.throttled:
        first = probe.throttled[0].describe()
        report.line("throttling", f"{len(probe.throttled)} answers throttled, e.g. {first}; the function backs off")
    else:
        report.line("throttling", "none seen")
    report.tenant["delete_answers"] = "not measured (read only)"
    everything = [ms for values in probe.latencies.values() for ms in values]
    report.tenant["latency_ms"] = {
        what: {
            "calls": len(v),
            "min": round(min(v), 1),
            "median": round(statistics.median(v), 1),
            "max": round(max(v), 1),
        }
        for what, v in (("all", everything), *probe.latencies.items())
        if v
    }
    for what, figures in report.tenant["latency_ms"].items():
        report.line("latency", f"{what}: {figures['calls']} calls, min {figures['min']} / median"
                    f" {figures['median']} / max {figures['max']} ms")  # fmt: skip


def settings_and_credentials() -> tuple[Settings, str, str, str]:
    """The function's settings and AK/SK, read the function's way; Stop(2 or 3) if unusable."""
    try:
        settings = load_settings()
    except FunctionError as exc:
        raise Stop(USAGE, exc.detail) from None
    if not settings.cec_base_url:
        raise Stop(USAGE, "CEC_BASE_URL is not set: set it to the tenant's CEC API base URL")
    if not (
        settings.cec_credentials_file
        or settings.cec_credentials_secret
        or (settings.cec_app_key and settings.cec_app_secret)
    ):
        raise Stop(
            USAGE,
            "no CEC credentials: set CEC_CREDENTIALS_FILE, CEC_CREDENTIALS_SECRET or CEC_APP_KEY and CEC_APP_SECRET",
        )
    header = str(
        getattr(settings, "cec_app_key_header", None) or os.environ.get("CEC_APP_KEY_HEADER") or "app-key"
    ).strip()
    if header not in ("app-key", "omit") and not (header.startswith("user-id:") and header[len("user-id:") :].strip()):
        raise Stop(USAGE, "CEC_APP_KEY_HEADER must be app-key, omit or user-id:<id>")
    secrets = SecretReader(
        endpoint=settings.secret_manager_endpoint,
        timeout_seconds=settings.secret_timeout_seconds,
        ttl_seconds=settings.secret_cache_ttl_seconds,
    )
    try:
        credentials = CredentialProvider(settings, secrets).get(Deadline(MAX_TIMEOUT_SECONDS))
    except FunctionError as exc:
        raise Stop(USAGE if exc.status == 500 else UNREACHABLE, f"the CEC credentials: {exc.detail}") from None
    return settings, credentials.app_key, credentials.app_secret, header


def render(report: Report, code: int, calls: int) -> str:
    verdict = {
        HANDLED: "the function handles this tenant with these settings",
        UNHANDLED: "the function does NOT handle this tenant as configured",
        USAGE: "usage or configuration error",
        UNREACHABLE: "could not reach or authenticate with the tenant",
    }[code]
    out = [f"CEC tenant probe ({calls} calls, read only: tokenByAkSk and queryCalledRoute)"]
    out += [f"  {check:<11} {finding}" for check, finding in report.lines]
    if report.recommended:
        out.append("Recommended settings:")
        out += [f"  {name}={value}" for name, value in report.recommended.items()]
    out += [f"Advice: {a}" for a in report.advice]
    out += [f"PROBLEM: {p}" for p in report.problems]
    out.append(f"Verdict (exit {code}): {verdict}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Probe a CEC tenant, read only, with the function's settings.",
        epilog=__doc__.split("Exit status:")[1].join(["exit status:", ""]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--check-token-revocation",
        action="store_true",
        help="get a second token and see whether the first still works. WARNING: where a new token revokes the"
        " older ones, this revokes the running function's token too",
    )
    args = parser.parse_args(argv)
    report = Report()
    calls = 0
    try:
        settings, app_key, app_secret, header = settings_and_credentials()
        if args.check_token_revocation:
            print(
                "WARNING: --check-token-revocation gets a second token; if the tenant revokes older tokens, the"
                " running function's token is revoked too (it renews it once per request).",
                file=sys.stderr,
            )
        probe = Probe(settings, app_key, app_secret, header, min(settings.cec_timeout_seconds, MAX_TIMEOUT_SECONDS))
        try:
            run(probe, report, args.check_token_revocation)
        finally:
            calls = probe.calls
            summarize(probe, report)
        code = UNHANDLED if report.problems else HANDLED
    except Stop as stop:
        code = stop.code
        report.problems.append(stop.message)
    if args.json:
        document = {
            "exit": code,
            "calls": calls,
            "tenant": report.tenant,
            "recommended": report.recommended,
            "problems": report.problems,
            "advice": report.advice,
            "checks": [{"check": c, "finding": f} for c, f in report.lines],
        }
        print(json.dumps(document, indent=2))
    else:
        print(render(report, code, calls))
    return code


if __name__ == "__main__":
    sys.exit(main())
