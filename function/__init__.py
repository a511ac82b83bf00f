"""The deleteCalledRoute Cloud Function; ``main.py`` exposes its entry point."""

# The one version of the function: pyproject.toml reads it (dynamic version), and the
# OpenAPI documents (info.version) and GET /healthz report it. docs/CONTRIBUTING.md has
# the release checklist.
__version__ = "1.0.0"
