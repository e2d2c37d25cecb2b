"""The owner's review page: code requests listed, run, approved or denied in a browser.

One small HTML page, served by the site at ``/review``. It holds no data: its
script reads the owner's token from the address's fragment
(``/review#token=veil_...``, which browsers never send to the server) or from
a field, then calls the same API as the command line. Everything a scientist
wrote (code, description, results) is inserted as text, never as HTML, and
the page's Content-Security-Policy lets only its own script run.
"""

from __future__ import annotations

__all__ = ["review_page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>veil site: code requests to review</title>
<style nonce="__NONCE__">
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}pre{background:#f5f5f5;padding:.4rem;max-height:16rem;
overflow:auto;margin:0}button{margin:.1rem}#error{color:#b00020}
</style></head><body>
<h1>Code requests</h1>
<p>Read the code; <b>Run</b> executes it on the real data in a confined process and shows
you its result; <b>Approve</b> releases that result to the scientist; <b>Deny</b> never does.</p>
<p><label>Owner token <input id="token" type="password" size="60"></label>
<button id="load">Load</button></p>
<p id="error" role="alert"></p>
<table><thead><tr><th>#</th><th>scientist</th><th>dataset</th><th>code</th><th>status</th>
<th>result (owner only until approved)</th><th>decide</th></tr></thead>
<tbody id="requests"></tbody></table>
<script nonce="__NONCE__">
"use strict";
const field = document.getElementById("token");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) field.value = fromHash;
function say(text) { document.getElementById("error").textContent = text; }
async function api(method, path, body) {
  const response = await fetch(path, {method, headers: {
    "Authorization": "Bearer " + field.value, "Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}
function cell(row, text, pre) {
  const td = row.insertCell();
  const box = document.createElement(pre ? "pre" : "span");
  box.textContent = text;
  td.appendChild(box);
  return td;
}
function button(td, label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = label.toLowerCase();
  b.addEventListener("click", async () => {
    try { await action(); say(""); } catch (e) { say(e.message); }
    await load();
  });
  td.appendChild(b);
}
async function load() {
  let requests;
  try { requests = await api("GET", "/code-requests"); say(""); }
  catch (e) { say(e.message); return; }
  const body = document.getElementById("requests");
  body.replaceChildren();
  for (const r of requests) {
    const row = body.insertRow();
    row.dataset.request = r.id;
    row.dataset.status = r.status;
    cell(row, r.id); cell(row, r.user); cell(row, r.dataset);
    cell(row, r.function + "()\\n" + r.code, true);
    cell(row, r.status);
    const shown = r.error ? r.error : (r.result === null ? "" : JSON.stringify(r.result, null, 1));
    cell(row, shown, true).className = "result";
    const td = row.insertCell();
    if (r.status === "pending") button(td, "Run", () => api("POST", `/code-requests/${r.id}/run`));
    if (r.status === "ran") button(td, "Approve",
      () => api("POST", `/code-requests/${r.id}/approve`));
    if (["pending", "ran", "failed"].includes(r.status)) button(td, "Deny", () => {
      const reason = prompt("Reason for the scientist:", "not approved");
      if (reason) return api("POST", `/code-requests/${r.id}/deny`, {reason});
    });
  }
  document.body.dataset.loaded = String(requests.length);
}
document.getElementById("load").addEventListener("click", load);
if (field.value) load();
</script></body></html>
"""


def review_page(nonce: str) -> str:
    """The page's HTML, its script and style allowed by ``nonce`` alone."""
    return _PAGE.replace("__NONCE__", nonce)
