"""The cold-start anchor: the smallest functions-framework function there is."""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    return "ok"
