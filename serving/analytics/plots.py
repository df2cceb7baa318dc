"""Figures of the monthly report (and the notebook): matplotlib ``Figure`` objects, no pyplot state.

Every function draws a readable "no data" panel instead of failing on an empty month.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
from matplotlib.figure import Figure

_BAR = "#2f6f8f"
_MUTED = "#b8c4cc"


def _empty(fig: Figure, title: str) -> Figure:
    ax = fig.subplots()
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data this month", ha="center", va="center", color="#666666", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def bar_chart(counts: Mapping[str, int], title: str, xlabel: str = "complaints", top: int | None = None) -> Figure:
    """Horizontal bars, largest at the top (``top`` keeps the largest N)."""
    items = sorted(((str(k), int(v)) for k, v in counts.items() if v), key=lambda kv: -kv[1])[:top]
    fig = Figure(figsize=(7.5, max(2.2, 0.32 * len(items) + 1.0)), layout="constrained")
    if not items:
        return _empty(fig, title)
    ax = fig.subplots()
    labels, values = zip(*reversed(items), strict=True)
    ax.barh(labels, values, color=_BAR)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.12)
    return fig


def trend_chart(periods: Sequence[tuple[datetime, int, int]], title: str) -> Figure:
    """Complaints and non-complaints (lainnya) per month."""
    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    if not any(c or n for _, c, n in periods):
        return _empty(fig, title)
    ax = fig.subplots()
    labels = [p.strftime("%b %Y") for p, _, _ in periods]
    x = np.arange(len(periods))
    ax.bar(x, [c for _, c, _ in periods], color=_BAR, label="complaints")
    ax.bar(x, [n for _, _, n in periods], bottom=[c for _, c, _ in periods], color=_MUTED, label="lainnya")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("routed tweets")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return fig


def response_boxplot(hours: Mapping[str, np.ndarray], title: str, targets: Mapping[str, float] | None = None) -> Figure:
    """Distribution of hours to the first reply per group (log scale), answered complaints only."""
    groups = [(name, np.asarray(values)) for name, values in hours.items() if len(values)]
    fig = Figure(figsize=(7.5, max(2.4, 0.38 * len(groups) + 1.2)), layout="constrained")
    if not groups:
        return _empty(fig, title)
    ax = fig.subplots()
    names, data = zip(*reversed(groups), strict=True)
    # Replies within a minute would sit at log(0): clip to a minute for the plot only.
    ax.boxplot([np.clip(d, 1 / 60, None) for d in data], orientation="horizontal", tick_labels=names, showfliers=False)
    ax.set_xscale("log")
    for label, h in (targets or {}).items():
        ax.axvline(h, color="#c0392b", lw=0.8, ls="--")
        ax.text(h, len(names) + 0.45, f" {label} {h:g} h", color="#c0392b", fontsize=7, va="bottom")
    ax.set_xlabel("hours to first reply (log scale; whiskers 1.5 IQR, outliers hidden)")
    ax.set_title(title, pad=16)  # room for the target labels above the plot
    return fig


def to_base64_png(fig: Figure, dpi: int = 110) -> str:
    """The figure as a base64 PNG (for ``<img src="data:image/png;base64,...">``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
