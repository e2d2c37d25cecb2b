"""Budgets per spender (a scientist, a federated run), checked with the dataset's total."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.errors import BudgetExceededError, ParameterError
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss


def test_a_spender_is_held_to_its_own_budget_and_to_the_total(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        book.add_spender("a", "alice", epsilon=0.5, delta=1e-7)
        book.add_spender("a", "bob", epsilon=0.5, delta=1e-7)
        assert book.spenders("a") == ["alice", "bob"]
        job = book.reserve("a", PrivacyLoss.pure(0.4), what="x", mechanism="m", spender="alice")
        book.finish(job)
        with pytest.raises(BudgetExceededError, match="spender 'alice' of dataset 'a'"):
            book.reserve("a", PrivacyLoss.pure(0.2), what="x", mechanism="m", spender="alice")
        # Carol has no budget of her own: only the dataset's total binds her.
        book.finish(
            book.reserve("a", PrivacyLoss.pure(0.45), what="x", mechanism="m", spender="carol")
        )
        # Bob has 0.5 of his own, but the dataset has only 0.15 left.
        with pytest.raises(BudgetExceededError, match=r"dataset 'a' has epsilon 0\.15 left"):
            book.reserve("a", PrivacyLoss.pure(0.2), what="x", mechanism="m", spender="bob")
        alice = book.status("a", spender="alice")
        assert (alice.epsilon, alice.epsilon_spent, alice.spender) == (0.5, 0.4, "alice")
        assert book.status("a").epsilon_spent == pytest.approx(0.85)
        assert [r.spender for r in book.history("a").records] == ["alice", "carol"]
        assert len(book.history("a", spender="alice").records) == 1


def test_bad_spender_budgets(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        with pytest.raises(ParameterError, match="dataset 'a' has only epsilon=1"):
            book.add_spender("a", "alice", epsilon=2.0, delta=1e-7)
        book.add_spender("a", "alice", epsilon=0.5, delta=0.0)
        with pytest.raises(ParameterError, match="already has a budget"):
            book.add_spender("a", "alice", epsilon=0.1, delta=0.0)
        with pytest.raises(ParameterError, match="spender must be a non-empty string"):
            book.add_spender("a", "", epsilon=0.1, delta=0.0)
        with pytest.raises(ParameterError, match="not in ledger"):
            book.add_spender("zzz", "alice", epsilon=0.1, delta=0.0)
        with pytest.raises(ParameterError, match="spender 'bob' has no budget"):
            book.status("a", spender="bob")
