"""A deployment on 127.0.0.1: a TLS server, clients, an intruder, a kill, a restart."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from veil.federated import load_digits
from veil.federated.deployment import make_certificates

SLOW_CLIENT = """
import sys, time
from pathlib import Path
from veil.federated.data import load_table
from veil.federated.deployment import DeployedClient, run_client
import veil.federated.deployment as deployment

marker = Path(sys.argv[2])

class Stalling(DeployedClient):
    def fit(self, parameters, config):
        if int(config["server_round"]) == 2:
            marker.write_text("in round 2")
            time.sleep(600)  # stalls until the test kills this process
        return super().fit(parameters, config)

deployment.DeployedClient = Stalling
site = load_table(sys.argv[1], "label", classes=[str(i) for i in range(10)])
run_client(site.X, site.y, server=sys.argv[3], certificates=sys.argv[4], key=sys.argv[5])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)  # polling interval of the wait, not synchronisation by itself
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def sites(tmp_path):
    data = load_digits()
    frame = pl.DataFrame(data.X, schema=[f"p{i}" for i in range(64)]).with_columns(
        pl.Series("label", data.y)
    )
    paths = []
    for i in range(3):
        path = tmp_path / f"site{i + 1}.csv"
        frame[i::3].write_csv(path)
        paths.append(path)
    test = tmp_path / "test.csv"
    frame[:300].write_csv(test)
    return paths, test


def _veil(*args: object, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "veil", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw,
    )  # fmt: skip


def _client(data: Path, address: str, certs: Path, key: Path, classes: str) -> subprocess.Popen:
    return _veil("federate", "client", "--data", data, "--target", "label", "--server", address,
                 "--certificates", certs, "--key", key, "--classes", classes)  # fmt: skip


def test_deployment_tls_auth_kill_and_resume(tmp_path, sites) -> None:
    paths, test = sites
    certs, strangers = tmp_path / "certs", tmp_path / "strangers"
    make_certificates(certs, clients=3)
    make_certificates(strangers, clients=1)  # a key pair the server does not trust
    address = f"127.0.0.1:{_free_port()}"
    ckpt = tmp_path / "server.npz"
    classes = ",".join(str(i) for i in range(10))
    server_args = ["federate", "server", "--certificates", certs, "--address", address,
                   "--test", test, "--target", "label",
                   "--checkpoint", ckpt, "--round-timeout", 60, "--json"]  # fmt: skip
    procs: list[subprocess.Popen] = []
    try:
        server = _veil(*server_args, "--rounds", 3, "--min-clients", 3)
        procs.append(server)
        for i in (0, 1):
            procs.append(_client(paths[i], address, certs, certs / f"client{i + 1}.key", classes))
        marker = tmp_path / "stalled"
        script = tmp_path / "slow_client.py"
        script.write_text(SLOW_CLIENT)
        slow = subprocess.Popen(
            [sys.executable, script, paths[2], marker, address, certs, certs / "client3.key"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(slow)
        intruder = _veil("federate", "client", "--data", paths[2], "--target", "label",
                         "--server", address, "--certificates", certs,
                         "--key", strangers / "client1.key", "--classes", classes,
                         "--max-retries", 1, "--max-wait", 10)  # fmt: skip
        procs.append(intruder)
        _wait(marker.exists, 180, "the third client to start round 2")
        slow.send_signal(signal.SIGKILL)  # killed mid-round
        out, err = server.communicate(timeout=180)
        assert server.returncode == 0, err[-2000:]
        run = json.loads(out)
        assert [r["round"] for r in run["rounds"]] == [1, 2, 3]
        assert [r["clients"] for r in run["rounds"]] == [3, 2, 2]
        assert run["final_accuracy"] > 0.8
        assert len(run["settings"]["rejected_clients"]) >= 1
        _, ierr = intruder.communicate(timeout=120)
        assert intruder.returncode == 2
        assert ierr.startswith("error: no round with the server") and ierr.count("\n") == 1
        assert ckpt.is_file()

        # A restarted server resumes after round 3 and runs round 4 only.
        server = _veil(*server_args, "--rounds", 4, "--min-clients", 2)
        procs.append(server)
        for i in (0, 1):
            procs.append(_client(paths[i], address, certs, certs / f"client{i + 1}.key", classes))
        out, err = server.communicate(timeout=180)
        assert server.returncode == 0, err[-2000:]
        run = json.loads(out)
        assert run["settings"]["resumed_from"] == 3
        assert [r["round"] for r in run["rounds"]] == [1, 2, 3, 4]
        assert run["rounds"][-1]["clients"] == 2
        assert np.isfinite(run["final_accuracy"])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


WRONG_SHAPE_CLIENT = """
import sys
import numpy as np
from flwr.common import ndarray_to_bytes
from veil.federated.data import load_table
from veil.federated.deployment import DeployedClient, run_client
from veil.federated.tunnel import unwrap, wrap
import veil.federated.deployment as deployment

class WrongShape(DeployedClient):
    def _relayed(self, data):
        reply = unwrap(super()._relayed(data), where="this test")
        for record in reply.content.config_records.values():
            if "masked_params" in record:
                record["masked_params"] = [ndarray_to_bytes(np.zeros(7, dtype=np.int64))]
        return wrap(reply)

deployment.DeployedClient = WrongShape
site = load_table(sys.argv[1], "label", classes=[str(i) for i in range(10)])
run_client(site.X, site.y, server=sys.argv[2], certificates=sys.argv[3], key=sys.argv[4])
"""


def test_secagg_deployment_server_holds_only_masked_vectors(tmp_path, sites, monkeypatch) -> None:
    import threading

    from flwr.common import bytes_to_ndarray

    from veil.federated import ClassificationTask, tunnel
    from veil.federated.data import load_table
    from veil.federated.deployment import run_server

    paths, test = sites
    certs = tmp_path / "certs"
    make_certificates(certs, clients=3)
    address = f"127.0.0.1:{_free_port()}"
    classes = ",".join(str(i) for i in range(10))
    grids: list[tunnel.ProxyGrid] = []
    init = tunnel.ProxyGrid.__init__

    def keep(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        init(self, *args, **kw)
        grids.append(self)

    monkeypatch.setattr(tunnel.ProxyGrid, "__init__", keep)
    task = ClassificationTask(64, 10, hidden=(32,), seed=0)
    record: dict = {}
    server = threading.Thread(
        target=lambda: record.update(
            run_server(
                task, address=address, certificates=certs, rounds=2, min_clients=3,
                test=load_table(test, "label"), round_timeout=60, secagg=True,
                secagg_options={"num_shares": 3, "reconstruction_threshold": 2},
            )
        ),
        daemon=True,
    )  # fmt: skip
    server.start()
    script = tmp_path / "wrong_shape.py"
    script.write_text(WRONG_SHAPE_CLIENT)
    procs = [
        _client(paths[i], address, certs, certs / f"client{i + 1}.key", classes) for i in (0, 1)
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, script, paths[2], address, certs, certs / "client3.key"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    try:
        server.join(timeout=240)
        assert not server.is_alive(), "the SecAgg+ deployment did not finish"
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    # The third client's wrong-shaped masked vector is refused in both rounds, logged,
    # and SecAgg+ recovers its masks from the others' shares: the rounds go on with two.
    assert [r["clients"] for r in record["rounds"]] == [2, 2]
    assert len(record["rejected_replies"]) == 2
    assert all("masked vector has shapes [(7,)]" in r for r in record["rejected_replies"])
    assert record["rounds"][-1]["accuracy"] > 0.8
    # What the server received: no model array anywhere, only masked vectors that are
    # uncorrelated with the model they add up to. 2,048 coordinates: an independent
    # vector's correlation has sd 0.022; |r| > 0.15 (6.8 sd) has probability < 1e-10,
    # while a quantized update sent in the clear correlates with the mean at r ~ 0.9.
    (grid,) = grids
    masked = []
    for msg in grid.received:
        if not msg.has_content():
            continue
        assert all(len(r) == 0 for r in msg.content.array_records.values())
        for rec in msg.content.config_records.values():
            if "masked_params" in rec:
                masked.append([bytes_to_ndarray(b) for b in rec["masked_params"]])
    assert len(masked) == 4  # 2 accepted clients x 2 rounds
    model = record["parameters"][0].ravel()  # the first layer's weights, 32 x 64
    for vector in masked:
        r = np.corrcoef(vector[1].astype(float).ravel(), model)[0, 1]
        assert abs(r) < 0.15


def test_local_dp_clients_noise_their_own_updates_and_leave_when_spent(tmp_path, sites) -> None:
    """Each site's own --local-epsilon: noisy updates, then it leaves after --local-rounds."""
    paths, test = sites
    certs = tmp_path / "certs"
    make_certificates(certs, clients=3)
    address = f"127.0.0.1:{_free_port()}"
    classes = ",".join(str(i) for i in range(10))
    procs: list[subprocess.Popen] = []
    try:
        server = _veil("federate", "server", "--certificates", certs, "--address", address,
                       "--test", test, "--target", "label", "--rounds", 3, "--min-clients", 3,
                       "--round-timeout", 20, "--json")  # fmt: skip
        procs.append(server)
        local = ["--classes", classes, "--local-epsilon", 1, "--local-rounds", 2]
        clients = [
            _veil("federate", "client", "--data", p, "--target", "label", "--server", address,
                  "--certificates", certs, "--key", certs / f"client{i + 1}.key", *local)
            for i, p in enumerate(paths)
        ]  # fmt: skip
        procs.extend(clients)
        out, err = server.communicate(timeout=240)
        assert server.returncode == 0, err[-2000:]
        run = json.loads(out)
        # Two rounds from every site, then none: each left when its budget was spent.
        assert [r["clients"] for r in run["rounds"][:2]] == [3, 3]
        assert run["rounds"][2]["clients"] == 0
        # Epsilon 1 over 2 rounds: noise of std ~10 per weight swamps the updates.
        assert run["final_accuracy"] < 0.5
        for c in clients:
            cout, cerr = c.communicate(timeout=60)
            assert c.returncode == 0, cerr[-2000:]
            assert re.search(r"epsilon 0\.99\d* at delta 1e-05 in all", cout)
            assert "it left the run" in cout
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
