"""The HTML report in a real browser: headless Chromium loads it without an error
or a network request, and every chart shows up drawn, in the report's colours.

`make test` installs Chromium when it is missing; without it this test skips
with a reason locally (shown by ``-ra``) and fails in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veil.report.plots import PALETTE

_WIDTH = 1000
# Reports where each chart sits, for the test only: the shipped page has no script.
_PROBE = """<script>
document.body.dataset.boxes = JSON.stringify([...document.querySelectorAll("svg.chart")].map(
  e => { const r = e.getBoundingClientRect();
         return [e.getAttribute("aria-label"), r.left, r.top + scrollY, r.width, r.height]; }));
console.log("veil-probe-ran");
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI; `make test` installs it")
        pytest.skip("chromium is not installed (`make test` installs it)")
    return found


def _run(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *action,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own background calls aside)."""
    log = json.loads(net_log.read_text())
    return sorted(
        {
            event["params"]["url"]
            for event in log["events"]
            if "file://" in str(event.get("params", {}).get("network_isolation_key", ""))
            and "url" in event["params"]
        }
    )


@pytest.mark.slow
def test_report_renders_in_chromium(every_chart_html, tmp_path) -> None:
    page = tmp_path / "report.html"
    page.write_text(every_chart_html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")

    # 1. Load: the DOM holds every chart, the console says nothing but the probe
    #    (SVG parse errors would show there), and no request leaves the file.
    loaded = _run(
        page,
        tmp_path / "profile-dom",
        "--enable-logging=stderr",
        "--v=0",
        f"--log-net-log={tmp_path / 'net.json'}",
        "--dump-dom",
    )
    console = re.findall(r"CONSOLE[^\]]*\] (.*)", loaded.stderr)
    assert console and all("veil-probe-ran" in line for line in console), console
    assert [u for u in _page_requests(tmp_path / "net.json") if not u.startswith("file:")] == []
    boxes = json.loads(
        re.search(r'data-boxes="([^"]*)"', loaded.stdout).group(1).replace("&quot;", '"')
    )
    titles = re.findall(r'<svg class="chart" role="img" aria-label="([^"]*)"', every_chart_html)
    assert [b[0] for b in boxes] == titles and len(titles) == 8
    assert all(width > 300 and height > 150 for _, _, _, width, height in boxes)

    # 2. Look: a screenshot tall enough for the whole page; each chart's region is
    #    drawn (not blank), in several colours, with its series in the palette.
    bottom = max(top + height for _, _, top, _, height in boxes)
    shot = tmp_path / "report.png"
    _run(
        page,
        tmp_path / "profile-shot",
        f"--window-size={_WIDTH},{int(bottom) + 40}",
        f"--screenshot={shot}",
    )
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    for title, left, top, width, height in boxes:
        region = image[int(top) : int(top + height), int(left) : int(left + width)]
        ink = (region < 235).any(axis=2)
        assert ink.mean() > 0.03, f"{title!r} looks blank"
        colours = {tuple(c) for c in (region[ink] // 32).tolist()}
        assert len(colours) >= 4, f"{title!r} has only {len(colours)} colours"
        if "matrix" not in title and "Correlation" not in title:  # heat maps use a colour map
            assert _has_colour(region, PALETTE[0]), f"{title!r} lacks the first series colour"


def _has_colour(region: np.ndarray, hex_colour: str, *, pixels: int = 20) -> bool:
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(region - target).sum(axis=2) < 30).sum()) >= pixels
