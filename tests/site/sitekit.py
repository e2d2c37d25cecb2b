"""Shared pieces of the data site's tests: a populated site, a real server, a PostgreSQL cluster.

Servers bind 127.0.0.1 on a free port and are stopped by the test that started
them; readiness is a condition polled with a deadline, never a sleep. The
PostgreSQL cluster is a throwaway one made by initdb in a temporary folder,
on a free port, stopped at the end of the session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from veil.site import DataSite, SiteConfig

ROWS = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def patients(rows: int = ROWS, seed: int = 7) -> pl.DataFrame:
    """A made-up screening table: a name (identifier), age, BMI, sex and a diagnosis."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "name": [f"patient-{i}" for i in range(rows)],
            "age": rng.integers(18, 90, rows),
            "bmi": rng.normal(28.0, 5.0, rows).round(1),
            "sex": rng.choice(["F", "M"], rows),
            "diabetic": rng.choice(["no", "yes"], rows, p=[0.8, 0.2]),
        }
    )


def mock_of(frame: pl.DataFrame) -> pl.DataFrame:
    """An owner-provided mock: same columns, made-up values, none of the real rows."""
    rng = np.random.default_rng(99)
    n = 40
    return pl.DataFrame(
        {
            "name": [f"mock-{i}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "bmi": rng.uniform(15, 45, n).round(2) + 0.005,  # no real BMI has 3 decimals
            "sex": rng.choice(["F", "M"], n),
            "diabetic": rng.choice(["no", "yes"], n),
        }
    ).select(frame.columns)


def populate(state: Path, database: str | None = None, *, alice_epsilon: float = 1.0) -> dict:
    """A site with dataset 'diabetes', an owner and two scientists; their tokens."""
    data = patients()
    data.write_csv(state / "patients.csv")
    mock_of(data).write_csv(state / "mock.csv")
    with DataSite(SiteConfig(state=state, database=database)) as site:
        site.add_dataset(
            "diabetes",
            state / "patients.csv",
            epsilon=10.0,
            delta=1e-6,
            description="Diabetes screening of adults, BMI and age",
            identifier=["name"],
            quasi=["age", "sex"],
            sensitive=["bmi", "diabetic"],
            mock=state / "mock.csv",
        )
        tokens = {
            "owner": site.add_user("boss", role="owner"),
            "alice": site.add_user("alice"),
            "bob": site.add_user("bob"),
        }
        site.grant("diabetes", "alice", epsilon=alice_epsilon, delta=1e-7)
        site.grant("diabetes", "bob", epsilon=1.0, delta=1e-7)
    return tokens


@contextlib.contextmanager
def served(state: Path, database: str | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Run `veil site serve` on a free loopback port; yield its URL; stop it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "veil",
        "site",
        "serve",
        "--state",
        str(state),
        "--port",
        str(port),
    ]
    if database:
        command += ["--database", database]
    log = open(state / "server.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"the site server exited with {proc.returncode}: {log.read()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the site server did not answer within {timeout} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(
            f"PostgreSQL's {name} is missing: `make test` installs it (make postgresql); the "
            "site's PostgreSQL tests need a throwaway cluster"
        )
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its base URL."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    pytest.importorskip("psycopg", reason="the site extra is not installed")
    root = Path(tempfile.mkdtemp(prefix="veil-pg-"))
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, user=user, timeout=120)

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def new_database(base: str) -> str:
    """A fresh, empty database in the cluster at ``base``; its URL."""
    import psycopg

    name = f"site_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        base.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


@pytest.fixture
def site_state(tmp_path: Path) -> tuple[Path, dict]:
    """A populated SQLite site in a temporary folder and its tokens."""
    return tmp_path, populate(tmp_path)
