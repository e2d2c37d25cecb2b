"""DP queries of the site: a repeated query reuses its plan but draws fresh noise and is
charged in full, recorded in the ledger exactly like its first answer."""

from __future__ import annotations

from pathlib import Path

from sitekit import patients, populate

from veil.ledger import Ledger
from veil.site import DataSite, SiteConfig
from veil.site.auth import Principal
from veil.site.queries import QueryRequest, answer_query


def test_a_repeated_query_draws_fresh_noise_and_is_charged_each_time(tmp_path: Path) -> None:
    populate(tmp_path, alice_epsilon=1.0)
    alice = Principal("alice", "scientist")
    ask = QueryRequest(statistic="count", epsilon=0.05)
    with DataSite(SiteConfig(state=tmp_path)) as site:
        answers = [answer_query(site, alice, "diabetes", ask)["values"][0] for _ in range(20)]
        assert len(site.answer_plans._plans) == 1  # planned once, answered 20 times
    # Discrete Laplace at epsilon 0.05 puts at most 2.5% mass on any one value, so 20
    # equal answers (a reused noise draw) happen with probability < 0.025**19 ~ 4e-31;
    # all 20 equal to the true count, with probability < 1e-30.
    assert len(set(answers)) > 1
    assert set(answers) != {float(patients().height)}
    with Ledger(tmp_path / "veil-ledger.db") as book:
        records = book.history("diabetes", spender="alice").records
        status = book.status("diabetes", spender="alice")
    assert len(records) == 20 and status.releases == 20
    assert status.by_accountant["basic"] == 1.0  # 20 x 0.05, each charged in full
    first = records[0]
    for later in records[1:]:
        assert (later.what, later.mechanism, later.loss, later.parameters, later.state) == (
            first.what,
            first.mechanism,
            first.loss,
            first.parameters,
            "finished",
        )
        assert later.result["values"] and later.spender == "alice"
