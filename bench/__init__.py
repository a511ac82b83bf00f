"""Benchmark harness: this function against `naive` and `floor` (run with bench/run.sh)."""
