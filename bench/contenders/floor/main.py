"""`floor`: the physical limit of a forwarding function, nothing but one pooled call.

A fixed token (the harness fetches it once and passes FLOOR_TOKEN) and one
keep-alive session: what is left is functions-framework, one upstream round trip
and the bytes. A body over the API's 1000 dnids is sent in sequential chunks, the
least any correct function must do, so the 10,000-dnid figure has a floor too.
"""

import json
import os

import flask
import functions_framework
import requests
from requests.adapters import HTTPAdapter

DELETE_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute"
API_LIMIT = 1000

_url = os.environ["CEC_BASE_URL"].rstrip("/") + DELETE_PATH
_session = requests.Session()
# As many pooled connections as gunicorn has threads, so none is ever reopened.
_session.mount("http://", HTTPAdapter(pool_maxsize=64))
_session.headers.update(
    {
        "Authorization": "Bearer " + os.environ["FLOOR_TOKEN"],
        "X-APP-Key": os.environ["FLOOR_APP_KEY"],
        "Content-Type": "application/json",
    }
)


@functions_framework.http
def forward(request: flask.Request) -> tuple[bytes, int, dict[str, str]]:
    body = request.get_data()
    dnids = str(json.loads(body).get("dnids", "")).split(",")
    if len(dnids) <= API_LIMIT:
        answer = _session.post(_url, data=body, timeout=10)
        return answer.content, answer.status_code, {"Content-Type": "application/json"}
    answers = []
    for start in range(0, len(dnids), API_LIMIT):
        chunk = ",".join(dnids[start : start + API_LIMIT])
        answers.append(_session.post(_url, json={"dnids": chunk}, timeout=10).json())
    return json.dumps(answers).encode(), 200, {"Content-Type": "application/json"}
