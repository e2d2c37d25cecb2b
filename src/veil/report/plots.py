"""Charts of the HTML report, drawn by matplotlib as SVG inlined in the page.

One plotting path serves every chart block, so all charts share one look (the
page's colours, one palette in one order) and one set of guarantees: the SVG
needs nothing from the network (text stays text, set in a list of fonts every
system has; nothing is fetched), carries no script, and is the same bytes for
the same chart (ids hashed with a fixed salt, no date), which keeps reports
diffable. What each chart shows is drawn in :mod:`veil.report.figures`.

matplotlib is imported inside :func:`chart_svg`, never at module level: ``import
veil`` and commands without ``--report`` do not pay the ~0.5 s it costs. Figures
are built with ``matplotlib.figure.Figure`` directly rather than ``pyplot``, so
rendering a report neither selects a backend nor touches the figures of a user's
own session (the SVG canvas draws them; no GUI is involved).
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import Any

from veil.report.charts import Chart
from veil.report.figures import CLASS_GID, DRAWERS, INK, MUTED, PALETTE

__all__ = ["PALETTE", "chart_svg"]

_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # <text>: searchable, and half the bytes of glyph outlines
    "svg.hashsalt": "veil",  # ids derived from content, not a random salt: stable bytes
    "font.family": "DejaVu Sans",  # the layout's metrics; shipped with matplotlib
    "font.size": 9,
    "text.color": INK,
    "axes.labelcolor": "#333333",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.edgecolor": "#9a9a9a",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e8e8e8",
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "lines.linewidth": 1.8,
    "path.simplify": True,
}
# Set once on the <svg> and inherited, instead of matplotlib's list on every <text>.
_FONTS = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
_FAMILY = re.compile(r"font-family: [^;]*;? ?")
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def chart_svg(chart: Chart, *, id_prefix: str = "chart") -> str:
    """Render ``chart`` as an ``<svg>`` element to inline in an HTML page.

    Parameters
    ----------
    chart
        Any chart block of :mod:`veil.report.charts`.
    id_prefix
        Prefix of every id inside the SVG; give each chart of a page its own so
        that the references of one (clip paths, markers) never resolve in another.

    Returns
    -------
    str
        The ``<svg class="chart">`` element, without XML prolog or doctype.
    """
    import matplotlib

    draw = next((draw for kind, draw in DRAWERS if isinstance(chart, kind)), None)
    if draw is None:
        raise TypeError(f"no plot for report block {type(chart).__name__}")
    with matplotlib.rc_context(_RC):
        figure = draw(chart)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    return _inline(buffer.getvalue(), chart.title, id_prefix)


def _inline(svg: str, title: str, prefix: str) -> str:
    """Make matplotlib's standalone SVG fit for inlining: ids scoped, prolog and bulk gone."""
    svg = svg[svg.index("<svg") :]
    referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg))

    def scope(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(CLASS_GID):
            return f' class="{name[len(CLASS_GID) :]}"'
        # Unreferenced ids (figure_1, patch_2...) would repeat in every chart of the page.
        return f' id="{prefix}-{name}"' if name in referenced else ""

    svg = re.sub(r' id="([^"]*)"', scope, svg)
    svg = re.sub(r'(url\(#|href="#)', rf"\g<1>{prefix}-", svg)
    # Path coordinates to 1/100 pt (matplotlib writes six decimals): fewer bytes, same look.
    svg = re.sub(r' d="([^"]*)"', lambda m: f' d="{_short_numbers(m.group(1))}"', svg)
    svg = re.sub(r'style="([^"]*)"', lambda m: f'style="{_FAMILY.sub("", m.group(1))}"', svg)
    svg = re.sub(r' transform="rotate\(-0 [^)]*\)"', "", svg)
    svg = re.sub(r">\s+<", "><", svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    # matplotlib's stylesheet says "*{...}": inlined, it would reach the whole page.
    svg = svg.replace('<style type="text/css">*{', '<style type="text/css">svg.chart *{')
    return svg.replace(
        "<svg ",
        f'<svg class="chart" role="img" aria-label="{escape(title)}" font-family="{_FONTS}" ',
        1,
    ).replace(">", f"><title>{escape(title)}</title>", 1)


def _short_numbers(path: str) -> str:
    return re.sub(r"(\.\d\d)\d+", r"\1", path)
