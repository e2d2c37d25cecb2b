"""Optimal global recoding: agrees with exhaustive search; gives the textbook generalizations."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.anonymize import (
    AlphaKAnonymity,
    Anonymizer,
    BetaLikeness,
    DeltaDisclosure,
    EntropyLDiversity,
    GroupingHierarchy,
    IntervalHierarchy,
    KAnonymity,
    LDiversity,
    MaskingHierarchy,
    RecursiveCLDiversity,
    TCloseness,
)
from veil.anonymize.encoding import encode_table
from veil.anonymize.evaluation import evaluate_node
from veil.anonymize.search import (
    exhaustive_generalization,
    lattice_nodes,
    optimal_generalization,
)
from veil.datasets import EXAMPLE_ROLES, patients
from veil.errors import ParameterError

MODEL_SETS = [
    [KAnonymity(2)],
    [KAnonymity(3)],
    [KAnonymity(2), LDiversity(2)],
    [LDiversity(2)],
    [EntropyLDiversity(2)],
    [RecursiveCLDiversity(2, 2)],
    [KAnonymity(2), TCloseness(0.3)],
    [AlphaKAnonymity(0.7, 2)],
    [BetaLikeness(1.5)],
    [BetaLikeness(1.5, enhanced=True)],
    [DeltaDisclosure(1.2)],
]


@st.composite
def small_tables(draw):
    n = draw(st.integers(8, 40))
    ages = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    zips = draw(st.lists(st.sampled_from(["1301", "1302", "1311", "1400"]), min_size=n, max_size=n))
    cats = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    sexes = draw(st.lists(st.sampled_from(["F", "M"]), min_size=n, max_size=n))
    sa = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n))
    frame = pl.DataFrame({"age": ages, "zip": zips, "cat": cats, "sex": sexes, "sa": sa})
    models = draw(st.sampled_from(MODEL_SETS))
    suppression = draw(st.sampled_from([0.0, 0.1, 0.3]))
    # The ends and the middle are where ARX's factors switch formula (g = 0 at 1).
    gs_factor = draw(st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1)))
    return frame, models, suppression, gs_factor


HIERARCHIES = {
    "age": IntervalHierarchy([5, 10, 20], start=0),
    "zip": MaskingHierarchy(),
    "cat": GroupingHierarchy([{"a": "ab", "b": "ab", "c": "c"}]),
}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_pruned_search_equals_exhaustive_search(case) -> None:
    frame, models, suppression, gs_factor = case
    table = encode_table(frame, ["age", "zip", "cat", "sex"], ["sa"], HIERARCHIES)
    limit = int(suppression * frame.height)
    fast = optimal_generalization(table, models, limit, gs_factor=gs_factor)
    slow = exhaustive_generalization(table, models, limit, gs_factor=gs_factor)
    assert (fast.best is None) == (slow.best is None)
    if slow.best is not None:
        assert fast.best.node == slow.best.node
        assert fast.best.objective == pytest.approx(slow.best.objective, abs=1e-12)
        assert fast.best.loss == pytest.approx(slow.best.loss, abs=1e-12)
        assert fast.best.suppressed == slow.best.suppressed <= limit
    assert fast.checked <= slow.checked


AGE_GROUPS = {
    **{a: "<30" for a in range(20, 30)},
    **{a: "3*" for a in range(30, 40)},
    **{a: ">=40" for a in range(40, 60)},
}


def _hospital_hierarchies(*, with_40: bool = True) -> dict:
    levels = [AGE_GROUPS, {"<30": "<=40", "3*": "<=40", ">=40": ">40"}]
    age = GroupingHierarchy(levels if with_40 else levels[:1])
    return {"zip": MaskingHierarchy(), "age": age, "nationality": GroupingHierarchy()}


def test_hospital_table_4_anonymous(hospital: pl.DataFrame) -> None:
    # Machanavajjhala et al. 2007, Figure 2, with the figure's age groups (<30, 3*, >=40)
    # and one zip masking level for all rows, as global recoding requires:
    # zip 130**/148**, age <30 / 3* / >=40, nationality *.
    hierarchies = _hospital_hierarchies(with_40=False)
    anonymizer = Anonymizer([KAnonymity(4)], hierarchies=hierarchies, suppression=0)
    out = anonymizer.fit_transform(hospital, ["zip", "age", "nationality"], ["condition"])
    assert anonymizer.levels_ == {"zip": 2, "age": 1, "nationality": 1}
    assert out["zip"].to_list()[:5] == ["130**", "130**", "130**", "130**", "148**"]
    assert out["age"].to_list()[:5] == ["<30", "<30", "<30", "<30", ">=40"]
    assert set(out["nationality"]) == {"*"}


def test_hospital_table_3_diverse(hospital: pl.DataFrame) -> None:
    # Figure 3: zip 1305* / 1485* / 1306*, age <=40 / >40, nationality *.
    anonymizer = Anonymizer(
        [KAnonymity(4), LDiversity(3)], hierarchies=_hospital_hierarchies(), suppression=0
    )
    out = anonymizer.fit_transform(hospital, ["zip", "age", "nationality"], ["condition"])
    assert anonymizer.levels_ == {"zip": 1, "age": 2, "nationality": 1}
    classes = out.group_by("zip", "age").agg(pl.col("condition").n_unique(), pl.len())
    assert sorted(classes.rows()) == [
        ("1305*", "<=40", 3, 4),
        ("1306*", "<=40", 3, 4),
        ("1485*", ">40", 3, 4),
    ]


def test_unreachable_target_shows_the_closest_node() -> None:
    # Class a=1 is (0.5, 2)-anonymous, class a=2 is not, nor is the whole table.
    frame = pl.DataFrame({"a": [1, 1, 1, 2, 2, 2, 2], "s": ["x", "y", "z", "x", "x", "x", "x"]})
    models = [AlphaKAnonymity(0.5, 2)]
    with pytest.raises(
        ParameterError,
        match=r"closest node \(a=0\) still needs 4 rows \(57.1%\) suppressed: "
        r"allow suppression=0.572",
    ):
        Anonymizer(models, suppression=0.5).fit(frame, "a", "s")
    out = Anonymizer(models, suppression=0.6).fit_transform(frame, "a", "s")
    assert out.rows() == [(1, "x"), (1, "y"), (1, "z")]


def test_target_no_class_can_meet_is_said_so(hospital: pl.DataFrame) -> None:
    # Only 3 distinct conditions exist, so no class can be 4-diverse.
    with pytest.raises(ParameterError, match="no equivalence class satisfies it at any node"):
        Anonymizer([LDiversity(4)]).fit(hospital, ["zip", "age"], "condition")


def test_adult_k10_finds_arx_optimum(adult, adult_hierarchies) -> None:
    # ARX 3.9.2 on the same request chose age 4, education 2, marital-status 0,
    # occupation 1, sex 0, native-country 1 and suppressed 1,380 rows.
    quasi = list(adult_hierarchies)
    anonymizer = Anonymizer([KAnonymity(10)], hierarchies=adult_hierarchies, suppression=0.05)
    anonymizer.fit(adult, quasi, identifier=["race"])
    assert list(anonymizer.levels_.values()) == [4, 2, 0, 1, 0, 1]
    assert anonymizer.suppressed_ == 1380


# gs-factor (ARX's generalization/suppression factor)

LETTERS = pl.DataFrame({"c": ["a", "a", "b", "c", "d", "e"]})
LETTER_GROUPS = {
    "c": GroupingHierarchy([{"a": "abc", "b": "abc", "c": "abc", "d": "de", "e": "de"}])
}


@pytest.mark.parametrize(
    ("gs_factor", "objective", "chosen"),
    [
        # level 1 keeps abc (4 rows, NCP (3-1)/(5-1) = 1/2 each) and suppresses d, e
        # (NCP 1/4 each if kept); level 2 keeps all 6 rows at NCP 1; m = 1 column.
        (0.5, (2 + 2) / 6, 1),  # g = s = 1: 4 * 1/2 + 2 * 1
        (0.25, (2 + 2 * (0.25 + 0.5 * 0.75)) / 6, 1),  # s = 1/2: ncp + s (1 - ncp)
        (0.0, (2 + 2 * 0.25) / 6, 1),  # s = 0: a suppressed cell costs its NCP
        # g = 1/2: 1/2 * 4 * 1/2 + 2 = 3, level 2 also costs 1/2 * 6: a tie, and
        # the tie goes to fewer suppressed rows
        (0.75, (0.5 * 2 + 2) / 6, 2),
        (1.0, 2 / 6, 2),  # g = 0: only suppression costs
    ],
)
def test_gs_factor_weighs_cells_as_arx_does(gs_factor, objective, chosen) -> None:
    table = encode_table(LETTERS, ["c"], [], LETTER_GROUPS)
    outcome, _, _ = evaluate_node(table, (1,), [KAnonymity(3)], 2, gs_factor=gs_factor)
    assert outcome.suppressed == 2
    assert outcome.objective == pytest.approx(objective, abs=1e-15)
    assert outcome.loss == pytest.approx(4 / 6, abs=1e-15)  # reported loss stays unweighted
    anonymizer = Anonymizer(
        [KAnonymity(3)], hierarchies=LETTER_GROUPS, suppression=2 / 6, gs_factor=gs_factor
    )
    anonymizer.fit(LETTERS, "c")
    assert anonymizer.levels_ == {"c": chosen}
    assert anonymizer.result_.utility["information loss (NCP)"]["after"] == pytest.approx(
        4 / 6 if chosen == 1 else 1.0, abs=1e-15
    )


@pytest.fixture(scope="module")
def patients_table():
    frame = patients(5_000)
    return frame, encode_table(frame, list(EXAMPLE_ROLES.quasi), [], None)


def test_gs_factor_half_is_the_plain_loss(patients_table) -> None:
    # The node, suppression and loss veil chose before the gs-factor existed.
    frame, table = patients_table
    search = optimal_generalization(table, [KAnonymity(5)], 500, gs_factor=0.5)
    assert search.best.node == (2, 0, 4, 0, 0, 0)
    assert search.best.suppressed == 434
    assert search.best.loss == pytest.approx(0.2970787878787879, rel=1e-13)
    assert search.best.objective == search.best.loss
    assert search.checked == 60
    anonymizer = Anonymizer([KAnonymity(5)], suppression=0.1)
    anonymizer.fit(frame, list(EXAMPLE_ROLES.quasi), identifier="record_id")
    assert anonymizer.result_.gs_factor == 0.5 and anonymizer.suppressed_ == 434
    loss = anonymizer.result_.utility["information loss (NCP)"]["after"]
    assert loss == search.best.loss


def test_raising_gs_factor_never_suppresses_more(patients_table) -> None:
    # For gs >= 0.5 the objective is g * (kept NCP) + (suppressed cells) with g falling,
    # so the standard exchange argument makes the suppressed count non-increasing. Below
    # 0.5 it is (all NCP) + s * (suppressed cells' excess over their NCP): the excess
    # shrinks as s grows, and on this table the row count follows it.
    _, table = patients_table
    grid = [i / 20 for i in range(21)]
    suppressed = [
        optimal_generalization(table, [KAnonymity(5)], 1_000, gs_factor=gs).best.suppressed
        for gs in grid
    ]
    assert all(a >= b for a, b in itertools.pairwise(suppressed))
    assert len(set(suppressed)) >= 4  # the factor really moves the choice on this table
    assert suppressed[0] > suppressed[10] > suppressed[-1]


def test_gs_factor_one_suppresses_the_fewest_rows(patients_table) -> None:
    # At gs = 1 only suppressed cells cost, so the search must find, among the nodes that
    # meet the models, one with the fewest suppressed rows (then the lowest, as ever). The
    # loss bound is 0 there: only monotonicity prunes.
    _, table = patients_table
    models = [KAnonymity(5)]
    best = optimal_generalization(table, models, 1_000, gs_factor=1.0).best
    passing = [
        o
        for o in (evaluate_node(table, n, models, 1_000)[0] for n in lattice_nodes(table.heights))
        if o.passes
    ]
    fewest = min(passing, key=lambda o: (o.suppressed, sum(o.node), o.node))
    assert (best.node, best.suppressed) == (fewest.node, fewest.suppressed)
