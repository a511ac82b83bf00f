"""Cloud Functions entry point: deploy with ``--entry-point delete_called_route``."""

import os

import functions_framework
from werkzeug.exceptions import HTTPException

# The function uses no pydantic plugin; looking plugins up scans the metadata of every
# installed distribution (importlib.metadata.entry_points) when the first model is
# built, a few milliseconds of every cold start. Set before the models are built; an
# operator can still set it otherwise.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from function.edge.handler import delete_called_route, framework_error  # after the line above

# functions-framework answers /robots.txt and /favicon.ico itself, and Werkzeug refuses
# a Host header it cannot read on every path, both with HTML; while functions-framework
# loads this module it offers its app's errorhandler, so that every answer Flask and
# Werkzeug give themselves is JSON like the function's own.
_register = getattr(functions_framework, "errorhandler", None)
if _register is not None:
    _register(HTTPException)(framework_error)

__all__ = ["delete_called_route"]
