"""Cloud Functions entry point: deploy with ``--entry-point delete_called_route``."""

import functions_framework

from function.edge.handler import delete_called_route, framework_error

# functions-framework answers /robots.txt and /favicon.ico itself, with HTML; while
# it loads this module it offers its app's errorhandler so those answers can be JSON
# like every other one.
_register = getattr(functions_framework, "errorhandler", None)
if _register is not None:
    _register(404)(framework_error)

__all__ = ["delete_called_route"]
