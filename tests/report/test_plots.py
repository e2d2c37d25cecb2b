"""The HTML page's charts: inline SVG from matplotlib, offline, stable, loaded lazily."""

from __future__ import annotations

import re
import subprocess
import sys

from veil.report import BarChart, Document, Paragraph, Section, render_html
from veil.report.plots import PALETTE, chart_svg


def test_page_is_one_offline_file(every_chart_document, every_chart_html) -> None:
    html = every_chart_html
    blocks = [b for s in every_chart_document.sections for b in s.blocks]
    charts = sum(not isinstance(b, Paragraph) for b in blocks)
    assert html.count('<svg class="chart"') == html.count("<svg") == charts
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "<script" not in html.lower() and "@import" not in html
    # No reference leaves the page: links are fragments, images data URIs, and the
    # only http(s) text left is the SVG namespaces, which nothing fetches.
    for link in re.findall(r'(?:href|src)="([^"]*)"', html):
        assert link.startswith(("#", "data:")), link
    for target in re.findall(r"url\(([^)]*)\)", html):
        assert target.startswith("#"), target
    leftover = re.sub(r'xmlns(:xlink)?="http://www\.w3\.org/[^"]*"', "", html)
    assert "http://" not in leftover and "https://" not in leftover
    assert "<metadata" not in html  # no date, no generator


def test_ids_are_unique_and_every_reference_resolves(every_chart_html) -> None:
    html = every_chart_html
    ids = re.findall(r' id="([^"]*)"', html)
    assert ids and len(ids) == len(set(ids))
    references = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', html))
    assert references <= set(ids)


def test_same_chart_same_bytes(every_chart_document, every_chart_html) -> None:
    assert render_html(every_chart_document) == every_chart_html


def test_bar_chart_keeps_its_hooks_and_colours() -> None:
    chart = BarChart(["a", "b", "c"], [3.0, 1.0, 2.0], "Counts", errors=[0.5, 0.2, 0.1])
    svg = chart_svg(chart, id_prefix="x")
    assert svg.count('class="bar"') == 3 and 'class="err"' in svg
    assert f"fill: {PALETTE[0]}" in svg
    assert ">Counts</text>" in svg  # text stays text: searchable, read by screen readers
    assert 'class="err"' not in chart_svg(BarChart(["a"], [1.0], "No errors"))


def test_many_labels_are_thinned_and_long_ones_cut() -> None:
    labels = [f"category with a rather long name {i}" for i in range(90)]
    svg = chart_svg(BarChart(labels, [float(i) for i in range(90)], "Many"))
    shown = re.findall(r">(category[^<]*)</text>", svg)
    assert 20 <= len(shown) <= 30  # every third label
    assert all(len(label) <= 24 and label.endswith("…") for label in shown)


def test_log_scale_and_empty_bar_charts_render() -> None:
    chart = BarChart(["a", "b", "c"], [1.0, 1e4, 0.0], "Log", errors=[2.0, 1.0, 1.0], log_y=True)
    svg = chart_svg(chart)
    assert svg.count('class="bar"') == 2 and 'class="err"' in svg  # 0 has no bar on a log axis
    assert ">no data</text>" in chart_svg(BarChart([], [], "Empty"))


def test_matplotlib_is_imported_only_to_draw(tmp_path) -> None:
    code = (
        "import sys, veil, veil.report, veil.cli, veil.anonymity, veil.dp\n"
        "assert 'matplotlib' not in sys.modules, 'imported at start-up'\n"
        "from veil.report import BarChart, Document, Paragraph, Section, render_html\n"
        "render_html(Document('t', [Section('s', [BarChart(['a'], [1.0], 'c')])]))\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_blocks_are_numbered_across_sections() -> None:
    chart = BarChart(["a"], [1.0], "c")
    html = render_html(Document("t", [Section("s", [chart]), Section("u", [chart])]))
    assert re.search(r'id="c1-', html) and re.search(r'id="c2-', html)
