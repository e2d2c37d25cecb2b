"""The owner's review page in headless Chromium: a request is listed, run and approved
with real mouse clicks, and its result is then released to the scientist.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte on file descriptors 3 and 4), so no extra
package is needed. `make test` installs Chromium when it is missing; without it this
test skips with a reason locally (shown by ``-ra``) and fails in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sitekit import populate, served

from veil.site import Client


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI; `make test` installs it")
        pytest.skip("chromium is not installed (`make test` installs it)")
    return found


class Browser:
    """A headless Chromium page driven over the DevTools protocol on a pipe."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: fd 3 reads commands, fd 4 writes answers
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next = 0
        self.session: str | None = None

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = True
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": url}, session=False)["targetId"]
        attached = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, session=False
        )
        self.session = attached["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})[
            "result"
        ]
        return result.get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element ``selector``."""
        box = self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def test_a_request_is_listed_run_approved_by_clicks_and_released(tmp_path: Path) -> None:
    _chromium()
    tokens = populate(tmp_path)
    with served(tmp_path) as url:
        alice = Client(url, token=tokens["alice"])
        job = alice.request_code(
            "diabetes", "def analysis(df):\n    return {'adults': int((df.age >= 18).sum())}\n"
        )
        browser = Browser(tmp_path / "profile")
        try:
            browser.open(f"{url}/review#token={tokens['owner']}")
            row = f'tr[data-request="{job["id"]}"]'
            # Listed, pending, its code shown as text.
            browser.wait_for("document.body.dataset.loaded === '1'")
            assert browser.eval(f"document.querySelector('{row}').dataset.status") == "pending"
            assert "adults" in browser.eval(f"document.querySelector('{row}').textContent")
            assert browser.eval("document.querySelector('button[data-action=approve]')") is None

            browser.click(f'{row} button[data-action="run"]')
            browser.wait_for(f"document.querySelector('{row}')?.dataset.status === 'ran'")
            shown = browser.eval(f"document.querySelector('{row} .result').textContent")
            assert json.loads(shown) == {"adults": 2000}  # the owner sees it first
            assert alice.request(job["id"])["result"] is None  # the scientist does not

            browser.click(f'{row} button[data-action="approve"]')
            browser.wait_for(f"document.querySelector('{row}')?.dataset.status === 'approved'")
            assert browser.eval("document.getElementById('error').textContent") == ""
        finally:
            browser.close()
        assert alice.result(job["id"]) == {"adults": 2000}
