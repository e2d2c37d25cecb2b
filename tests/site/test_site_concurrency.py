"""Racing queries never overspend: scientists hammer a real server from many threads and
the ledger admits exactly what fits in each budget, and in the dataset's total."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sitekit import populate, served

from veil.ledger import Ledger
from veil.site import DataSite, SiteConfig


def test_racing_queries_never_overspend(tmp_path: Path) -> None:
    # alice may afford exactly 10 queries of epsilon 0.1; bob 10 as well. 24 each are
    # sent at once, from 12 threads, through a real server.
    tokens = populate(tmp_path, alice_epsilon=1.0)
    with DataSite(SiteConfig(state=tmp_path)) as site:
        carol = site.add_user("carol")
        site.grant("diabetes", "carol", epsilon=10.0, delta=1e-7)
    start = threading.Barrier(12)
    with served(tmp_path) as url:

        def ask(token: str) -> int:
            with httpx.Client(base_url=url, timeout=60) as http:
                start.wait(timeout=60)
                codes = []
                for _ in range(4):
                    r = http.post(
                        "/datasets/diabetes/queries",
                        json={"statistic": "count", "epsilon": 0.1},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert r.status_code in (200, 403), r.text
                    codes.append(r.status_code)
                return codes.count(200)

        with ThreadPoolExecutor(12) as pool:
            alice = pool.map(ask, [tokens["alice"]] * 6)
            bob = pool.map(ask, [tokens["bob"]] * 6)
            admitted = {"alice": sum(alice), "bob": sum(bob)}
    assert admitted == {"alice": 10, "bob": 10}
    with Ledger(tmp_path / "veil-ledger.db") as book:
        for name in ("alice", "bob"):
            status = book.status("diabetes", spender=name)
            assert status.releases == 10 and status.epsilon_spent <= 1.0 + 1e-9
        assert book.status("diabetes").releases == 20
    assert carol  # granted but idle: her budget is untouched by the race


def test_racing_scientists_share_the_dataset_total_exactly(tmp_path: Path) -> None:
    # Each scientist could spend 1.0, but the dataset holds 10.0 in all: with 12 of them
    # racing for 0.5 a query, exactly 20 queries fit.
    tokens = populate(tmp_path)
    names = [f"s{i}" for i in range(12)]
    with DataSite(SiteConfig(state=tmp_path)) as site:
        scientists = {n: site.add_user(n) for n in names}
        for n in names:
            site.grant("diabetes", n, epsilon=1.0, delta=1e-7)
    assert tokens
    start = threading.Barrier(len(names))
    with served(tmp_path) as url:

        def ask(token: str) -> int:
            ok = 0
            with httpx.Client(base_url=url, timeout=60) as http:
                start.wait(timeout=60)
                for _ in range(3):
                    r = http.post(
                        "/datasets/diabetes/queries",
                        json={"statistic": "count", "epsilon": 0.5},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    ok += r.status_code == 200
            return ok

        with ThreadPoolExecutor(len(names)) as pool:
            admitted = sum(pool.map(ask, scientists.values()))
    assert admitted == 20
    with Ledger(tmp_path / "veil-ledger.db") as book:
        status = book.status("diabetes")
    assert status.releases == 20 and status.epsilon_spent <= 10.0 + 1e-9
