"""Reserve, compute holding no lock, then finish or cancel; crashes leave the spend counted."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest
from tests.ledger.conftest import spawn

from veil.errors import BudgetExceededError, LedgerBusyError, ParameterError, VeilError
from veil.ledger import Ledger, Reservation, as_ledger
from veil.privacy import PoissonSampledGaussianEvent, PrivacyLoss


def test_reserve_counts_then_finish_records(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        job = book.reserve("a", PrivacyLoss.pure(0.3), what="DP-SGD", mechanism="DP-SGD")
        assert isinstance(job, Reservation) and job.state == "reserved"
        assert job.epsilon_remaining_after == pytest.approx(0.7)
        status = book.status("a")
        assert (status.releases, status.reserved) == (1, 1)
        assert status.epsilon_spent == pytest.approx(0.3)  # counted before it finishes
        record = book.finish(job, {"accuracy": 0.9})
        assert (record.state, record.result, job.state) == (
            "finished",
            {"accuracy": 0.9},
            "finished",
        )
        assert record.finished is not None
        assert book.status("a").reserved == 0
        with pytest.raises(ParameterError, match="already finished"):
            book.finish(job, {"accuracy": 0.1})
        with pytest.raises(ParameterError, match=r"cannot cancel .* already finished"):
            book.cancel(job.id, reason="changed my mind")
        with pytest.raises(ParameterError, match="no reservation 999"):
            book.finish(999)


def test_cancel_gives_back_and_says_so(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        job = book.reserve("a", PrivacyLoss.pure(0.6), what="synth", mechanism="AIM")
        with pytest.raises(ParameterError, match="reason"):
            book.cancel(job, reason="  ")
        record = book.cancel(job, reason="out of memory before sampling")
        assert record.state == "cancelled" and "out of memory" in (record.note or "")
        assert book.status("a").epsilon_spent == 0.0
        history = book.history("a")
        assert [r.state for r in history.records] == ["cancelled"]
        assert "was cancelled and does not count: nothing published: out of" in history.to_html()
        with pytest.raises(ParameterError, match="already cancelled"):
            book.finish(job)


def test_a_failed_block_cancels_and_a_refusal_records_nothing(ledger_path: Path) -> None:
    with Ledger(ledger_path) as book:
        with (
            pytest.raises(ZeroDivisionError),
            book.release("a", PrivacyLoss.pure(0.5), what="x", mechanism="m"),
        ):
            1 / 0  # noqa: B018
        assert book.history("a").records[0].note == (
            "nothing published: the computation failed (ZeroDivisionError)"
        )
        with pytest.raises(BudgetExceededError, match="before any noise"):
            book.reserve("a", PrivacyLoss.pure(1.5), what="x", mechanism="m")
        assert len(book.history("a").records) == 1


def test_a_loss_stated_by_its_event_is_charged_by_the_tightest_accountant(
    ledger_path: Path,
) -> None:
    sgd = PoissonSampledGaussianEvent(
        noise_multiplier=1.1, sampling_probability=256 / 60000, steps=14062
    )
    with Ledger(ledger_path) as book:
        book.add_dataset("mnist", epsilon=3.0, delta=1e-5)
        job = book.reserve(
            "mnist", PrivacyLoss(delta=1e-5, event=sgd), what="fit", mechanism="DP-SGD"
        )
        assert job.epsilon_spent_after == pytest.approx(2.3817, rel=1e-3)
        book.finish(job)
        stored = book.history("mnist").records[0].loss
        assert stored.event == sgd and stored.epsilon == pytest.approx(2.3817, rel=1e-3)


_HOLDER = """
import sys
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss
book = Ledger(sys.argv[1])
job = book.reserve("a", PrivacyLoss.pure(0.4), what="long job", mechanism="DP-SGD")
print("reserved", flush=True)
sys.stdin.readline()  # computes until told to stop
book.finish(job, {"done": True})
print("finished", flush=True)
"""


def test_a_held_reservation_blocks_no_release(ledger_path: Path) -> None:
    proc = spawn(_HOLDER, str(ledger_path))
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "reserved"
        # A short timeout: any lock still held by the long job would fail these.
        with Ledger(ledger_path, timeout=1.0) as book:
            with book.release("b", PrivacyLoss.pure(0.5), what="count", mechanism="m") as r:
                r.result = {"value": 1}
            with book.release("a", PrivacyLoss.pure(0.5), what="count", mechanism="m") as r:
                r.result = {"value": 2}
                assert r.epsilon_remaining_after == pytest.approx(0.1)  # sees the 0.4 reserved
            with pytest.raises(BudgetExceededError, match=r"epsilon 0\.1 left"):
                book.reserve("a", PrivacyLoss.pure(0.2), what="count", mechanism="m")
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "finished"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with Ledger(ledger_path) as book:
        assert [r.state for r in book.history("a").records] == ["finished", "finished"]


_KILLED = """
import sys, time
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss
book = Ledger(sys.argv[1])
book.reserve("a", PrivacyLoss.pure(0.4), what="long job", mechanism="DP-SGD")
print("reserved", flush=True)
time.sleep(120)
"""


def test_kill_during_a_reserved_job_leaves_it_counted(ledger_path: Path) -> None:
    proc = spawn(_KILLED, str(ledger_path))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "reserved"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with Ledger(ledger_path, timeout=5) as book:
        status = book.status("a")
        assert (status.releases, status.reserved) == (1, 1)
        assert status.epsilon_spent == pytest.approx(0.4)
        history = book.history("a")
        assert "Reserved and unfinished" in history.to_html()
        assert history.to_dict()["history"][0]["state"] == "reserved"
    check = sqlite3.connect(ledger_path).execute("PRAGMA integrity_check").fetchone()[0]
    assert check == "ok"


_RACER = """
import sys
from veil.errors import BudgetExceededError
from veil.ledger import Ledger
from veil.privacy import PrivacyLoss
book = Ledger(sys.argv[1], timeout=120)
print("ready", flush=True)
sys.stdin.readline()  # all start together
ok = refused = 0
for _ in range(int(sys.argv[2])):
    try:
        job = book.reserve("pure", PrivacyLoss.pure(0.015), what="count", mechanism="m")
    except BudgetExceededError:
        refused += 1
        continue
    book.finish(job, {"value": 1})
    ok += 1
print(ok, refused, flush=True)
"""


@pytest.mark.slow
def test_24_racing_processes_admit_exactly_what_fits(ledger_path: Path) -> None:
    # 24 processes x 5 reservations of 0.015 = 1.8 asked of a pure budget of 1
    # (delta 0: basic composition, so the count is exact): 66 fit (0.99), a 67th not.
    with Ledger(ledger_path) as book:
        book.add_dataset("pure", epsilon=1.0, delta=0.0)
    procs = [spawn(_RACER, str(ledger_path), "5") for _ in range(24)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=300)[0].split() for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs)
    ok = sum(int(o[0]) for o in outs)
    assert ok + sum(int(o[1]) for o in outs) == 120
    assert ok == 66
    with Ledger(ledger_path) as book:
        status = book.status("pure")
        assert (status.releases, status.reserved) == (66, 0)
        assert status.by_accountant["basic"] == pytest.approx(0.99)


def test_lock_timeouts_are_retryable_errors(ledger_path: Path) -> None:
    holder = sqlite3.connect(ledger_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with Ledger(ledger_path, timeout=0.2) as book, pytest.raises(LedgerBusyError) as err:
            book.reserve("a", PrivacyLoss.pure(0.1), what="x", mechanism="m")
        assert isinstance(err.value, VeilError) and err.value.retryable
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_as_ledger(ledger_path: Path) -> None:
    book, owned = as_ledger(ledger_path)
    assert owned and isinstance(book, Ledger)
    same, owned_again = as_ledger(book)
    assert same is book and not owned_again
    book.close()
    with pytest.raises(ParameterError, match=r"ledger must be a veil\.ledger\.Ledger or the path"):
        as_ledger(42)  # type: ignore[arg-type]
