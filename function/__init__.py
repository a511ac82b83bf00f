"""The deleteCalledRoute Cloud Function; ``main.py`` exposes its entry point."""
