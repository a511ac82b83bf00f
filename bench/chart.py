"""The report's chart: throughput, p50 and p99 per contender and concurrency."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a CI box or a server

import matplotlib.pyplot as plt

from bench.load import UPSTREAM
from bench.results import Run

SERIES = ("function", "naive", "floor", UPSTREAM)
COLOURS = {"function": "#1f77b4", "naive": "#d62728", "floor": "#2ca02c", UPSTREAM: "#7f7f7f"}
PANELS = (
    ("rps", "throughput (req/s)", False),
    ("p50_ms", "p50 latency (ms)", True),
    ("p99_ms", "p99 latency (ms)", True),
)


def draw(run: Run, path: Path) -> None:
    levels = sorted({p.concurrency for p in run.load})
    width = 0.8 / len(SERIES)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.5))
    for ax, (attr, title, log) in zip(axes, PANELS, strict=True):
        for i, name in enumerate(SERIES):
            xs, ys = [], []
            for j, level in enumerate(levels):
                point = run.point(name, level)
                if point is not None:
                    xs.append(j + (i - (len(SERIES) - 1) / 2) * width)
                    ys.append(float(getattr(point, attr)))
            ax.bar(xs, ys, width, label=name, color=COLOURS[name])
        ax.set_xticks(range(len(levels)), [f"c={c}" for c in levels])
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    latency = run.options["latency_ms"]
    fig.suptitle(f"CEC simulator with {latency} ms added per call; all on one {run.machine['nproc']}-CPU machine")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
