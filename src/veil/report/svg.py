"""Self-contained SVG bar charts for the HTML report (no plotting dependency)."""

from __future__ import annotations

import math
from html import escape

from veil.report.document import BarChart
from veil.report.format import cell

__all__ = ["bar_chart_svg"]

_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 64


def _nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(top / step) + 1)]


def bar_chart_svg(chart: BarChart) -> str:
    """Render ``chart`` as an inline SVG string."""
    values = [float(v) for v in chart.values]
    errors = [float(e) for e in chart.errors] if chart.errors is not None else None
    n = max(len(values), 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    if chart.log_y:
        positive = [v for v in values if v > 0] or [1.0]
        lo = 10 ** math.floor(math.log10(min(positive)))
        hi = 10 ** math.ceil(math.log10(max(positive) * 1.0001))
        hi = max(hi, lo * 10)
        ticks = [lo * 10**i for i in range(round(math.log10(hi / lo)) + 1)]

        def scale(v: float) -> float:
            if v <= 0:
                return 0.0
            return plot_h * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    else:
        tops = [v + (errors[i] if errors else 0) for i, v in enumerate(values)]
        ticks = _nice_ticks(max(tops, default=0))
        hi = ticks[-1] or 1.0

        def scale(v: float) -> float:
            return plot_h * max(v, 0) / hi

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
        f'role="img" aria-label="{escape(chart.title)}" class="chart">',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" class="ct">{escape(chart.title)}</text>',
    ]
    for t in ticks:
        y = _TOP + plot_h - scale(t)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{escape(cell(t))}</text>"
        )
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    label_every = max(1, math.ceil(n / 24))
    for i, v in enumerate(values):
        h = scale(v)
        x = _LEFT + i * slot + (slot - bar_w) / 2
        y = _TOP + plot_h - h
        tip = f"{chart.labels[i]}: {cell(v)}"
        if errors:
            tip += f" ± {cell(errors[i])}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if errors and not chart.log_y:
            y1 = _TOP + plot_h - scale(v + errors[i])
            y2 = _TOP + plot_h - scale(v - errors[i])
            cx = x + bar_w / 2
            parts.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="err"/>'
            )
        if i % label_every == 0:
            lx = _LEFT + i * slot + slot / 2
            ly = _TOP + plot_h + 14
            parts.append(
                f'<text x="{lx:.1f}" y="{ly}" text-anchor="end" class="tick" '
                f'transform="rotate(-35 {lx:.1f} {ly})">{escape(str(chart.labels[i]))}</text>'
            )
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 4}" text-anchor="middle" class="axis">'
        f"{escape(chart.x_label)}</text>"
        f'<text x="14" y="{_TOP + plot_h / 2}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {_TOP + plot_h / 2})">{escape(chart.y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
