"""The HE service end to end: a real `veil crypto serve` process on a free port, the CLI client.

The server runs as its own process (started and stopped by the fixture); its
log is a file the tests read: one line per request, no traceback for a bad
request, and none of the features or results it served.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from torch import nn

from veil.cli.app import main
from veil.crypto.he import PolynomialActivation, encrypt, from_torch
from veil.crypto.service import HEClient, HEServer
from veil.errors import DataError, ProtocolError

FEATURES = ["age", "bmi", "glucose"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[str, Path, LogisticRegression, pd.DataFrame, Path]:
    folder = tmp_path_factory.mktemp("he")
    rng = np.random.default_rng(0)
    # Distinctive values (7 decimals) so that a leak into the log would be found.
    X = pd.DataFrame(
        np.round(rng.normal(size=(120, 3)) * [10, 4, 20] + [50, 25, 100], 7), columns=FEATURES
    )
    y = (X["glucose"] + rng.normal(size=120) * 5 > 100).astype(int)
    est = LogisticRegression(max_iter=1000).fit(X, y)
    joblib.dump(est, folder / "model.joblib")
    log = folder / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veil",
                "crypto",
                "serve",
                str(folder / "model.joblib"),
                "--port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=60)  # wait for the "serving ... at URL" line, not a fixed sleep
    if not line or "http://" not in line[0]:
        proc.kill()
        pytest.fail(f"the server did not start: {log.read_text()}")
    url = line[0].split(" at ")[1].split()[0]
    X.to_csv(folder / "rows.csv", index=False)
    yield url, folder, est, X, log
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_cli_predict_end_to_end_matches_the_plaintext_model(served) -> None:
    url, folder, est, X, _ = served
    out = folder / "out.csv"
    assert (
        main(["crypto", "predict", str(folder / "rows.csv"), "--server", url, "-o", str(out)]) == 0
    )
    got = pl.read_csv(out)
    assert got.columns == ["probability"]
    np.testing.assert_allclose(got["probability"].to_numpy(), est.predict_proba(X)[:, 1], atol=1e-4)


def test_tampered_and_foreign_requests_get_one_line_errors_and_the_server_survives(served) -> None:
    url, _, est, X, log = served
    client = HEClient(url)
    body = bytearray(encrypt(client.keys, X.to_numpy()).to_bytes())
    body[len(body) // 2] ^= 0x10
    for bad, why in ((bytes(body), "corrupted"), (bytes(body[:1000]), "truncated|corrupted")):
        req = urllib.request.Request(url + "/predict", data=bad, method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)
        assert info.value.code == 400
        message = json.loads(info.value.read())["error"]
        assert "\n" not in message
        assert any(w in message for w in why.split("|"))
    stranger = HEClient.__new__(HEClient)  # a client whose context the server never saw
    stranger.url, stranger.timeout, stranger.info = client.url, 30.0, client.info
    stranger.keys = type(client.keys).generate(client.parameters)
    with pytest.raises(ProtocolError, match="unknown context"):
        HEClient.predict(stranger, X.to_numpy())
    # Still serving, and still right.
    np.testing.assert_allclose(
        client.predict(X.to_numpy())[:, 0], est.predict_proba(X)[:, 1], atol=1e-4
    )
    text = log.read_text()
    assert "POST /predict 400" in text and "POST /predict 200" in text
    assert "digest mismatch" in text  # why a request was refused, in veil's own words
    assert "Traceback" not in text
    for value in X.to_numpy().ravel()[:50]:
        assert f"{value:.7f}".rstrip("0") not in text
    for p in est.predict_proba(X)[:10, 1]:
        assert f"{p:.6f}" not in text


def test_wrong_width_and_unreachable_server(served) -> None:
    url, *_ = served
    with pytest.raises(DataError, match="3 features"):
        HEClient(url).predict(np.ones((2, 4)))
    with pytest.raises(ProtocolError, match="cannot reach"):
        HEClient("http://127.0.0.1:9", timeout=2)


def test_in_process_server_for_a_torch_mlp_and_a_regressor() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), PolynomialActivation((0.0, 0.5, 0.2)), nn.Linear(3, 1))
    model = from_torch(net)
    X = np.random.default_rng(2).normal(size=(30, 4))
    with HEServer(model) as server:
        got = HEClient(server.url).predict(X)
    np.testing.assert_allclose(got, model.predict(X), atol=1e-3)
    reg = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5, 3.0] + 7)
    from veil.crypto.he import from_sklearn

    with HEServer(from_sklearn(reg)) as server:
        client = HEClient(server.url)
        assert client.outputs == ["prediction"]
        np.testing.assert_allclose(client.predict(X)[:, 0], reg.predict(X), atol=1e-3)


def test_server_side_sigmoid_returns_probabilities_within_the_stated_error() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 3))
    est = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    from veil.crypto.he import from_sklearn

    model = from_sklearn(est).with_server_link(degree=3, bound=8.0)
    with HEServer(model) as server:
        client = HEClient(server.url)
        assert client.info["link"] == "identity" and client.outputs == ["probability"]
        got = client.predict(X)[:, 0]
    assert np.abs(est.decision_function(X)).max() < 8.0  # inside the fitted range
    assert np.max(np.abs(got - est.predict_proba(X)[:, 1])) <= model.approximation_error + 1e-4
