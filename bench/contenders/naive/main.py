"""`naive`: the function as most samples write it, the baseline to beat.

Per call it reads the AK/SK from Secret Manager with the official client, asks
tokenByAkSk for a token, and calls deleteCalledRoute with a bare ``requests.post``
(a new connection each time). No validation model, no caches. It is the generous
variant: the Secret Manager client is built once per instance, as the Cloud
Functions tips advise, not per call as the quick-start sample does.
"""

import json
import os
from typing import Any

import flask
import functions_framework
import requests
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

BASE_URL = os.environ["CEC_BASE_URL"].rstrip("/")
ENDPOINT = os.environ.get("SECRET_MANAGER_ENDPOINT")

# The local fake speaks plain HTTP and needs no Google credentials.
LOCAL_FAKE = bool(ENDPOINT and ENDPOINT.startswith("http://"))
client = secretmanager.SecretManagerServiceClient(
    credentials=AnonymousCredentials() if LOCAL_FAKE else None,  # type: ignore[no-untyped-call]
    client_options=ClientOptions(api_endpoint=ENDPOINT) if ENDPOINT else None,
    transport="rest",
)


@functions_framework.http
def delete_called_route(request: flask.Request) -> tuple[dict[str, Any], int]:
    if request.headers.get("X-API-Key") != os.environ["API_KEY"]:
        return {"error": "unauthorized"}, 401
    body = request.get_json(silent=True) or {}
    if not body.get("dnids"):
        return {"error": "dnids is required"}, 400

    secret = client.access_secret_version(name=os.environ["CEC_CREDENTIALS_SECRET"])
    credentials = json.loads(secret.payload.data)
    token = requests.post(
        BASE_URL + "/apigovernance/api/oauth/tokenByAkSk",
        json={"app_key": credentials["app_key"], "app_secret": credentials["app_secret"]},
        timeout=10,
    ).json()["AccessToken"]
    answer = requests.post(
        BASE_URL + "/apiaccess/rest/cc-management/v1/calledRoute/deleteCalledRoute",
        json={"dnids": body["dnids"]},
        headers={"Authorization": "Bearer " + token, "X-APP-Key": credentials["app_key"]},
        timeout=10,
    )
    return answer.json(), answer.status_code
