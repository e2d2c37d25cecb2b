"""The NER path for real: a tiny spaCy pipeline trained on generated sentences, from a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veil.cli.app import main
from veil.errors import ParameterError
from veil.pii import Analyzer, load_ner, scrub_text
from veil.pii.evaluation import precision_recall

from .conftest import make_sentences


def test_ner_finds_names_places_organisations(ner_model_path: Path) -> None:
    analyzer = Analyzer(ner=str(ner_model_path))
    held_out = make_sentences(60, seed=99)  # other combinations than the training sentences
    text = "\n".join(t for t, _ in held_out)
    truth, offset = [], 0
    rename = {"PERSON": "PERSON", "GPE": "LOCATION", "ORG": "ORGANIZATION"}
    for sentence, spans in held_out:
        truth += [(offset + s, offset + e, rename[label]) for s, e, label in spans]
        offset += len(sentence) + 1
    found = analyzer.analyze_block(text)
    scores = precision_recall([(f.start, f.end, f.type) for f in found], truth)
    for kind in ("PERSON", "LOCATION", "ORGANIZATION"):
        assert scores[kind]["recall"] >= 0.9, (kind, scores[kind])
        assert scores[kind]["precision"] >= 0.9, (kind, scores[kind])
    assert all(f.source == f"ner:{ner_model_path}" for f in found)


def test_ner_and_patterns_together(ner_model_path: Path) -> None:
    result = scrub_text(
        "Maria Garcia flew to Madrid on Monday. Mail maria@example.com",
        ner=str(ner_model_path),
    )
    assert result.text == "<PERSON> flew to <LOCATION> on Monday. Mail <EMAIL>"


def test_cli_ner_model(
    ner_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("Yesterday John Smith met the doctor in Boston.\n")
    code = main(["pii", "scrub", str(src), "-o", str(out), "--ner-model", str(ner_model_path),
                 "--json"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert out.read_text() == "Yesterday <PERSON> met the doctor in <LOCATION>.\n"
    assert json.loads(capsys.readouterr().out)["replaced"] == {"LOCATION": 1, "PERSON": 1}


def test_missing_pipeline_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="not on PyPI") as err:
        load_ner("en_core_web_sm_not_installed")
    assert "spacy-models/releases" in str(err.value)
    with pytest.raises(ParameterError, match="does not exist"):
        load_ner(str(tmp_path / "missing_model"))


def test_pipeline_without_ner_is_refused(tmp_path: Path) -> None:
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.to_disk(tmp_path / "blank")
    with pytest.raises(ParameterError, match="no 'ner' component"):
        load_ner(str(tmp_path / "blank"))


def test_text_longer_than_the_pipeline_takes(ner_model_path: Path) -> None:
    from veil.errors import DataError

    model = load_ner(str(ner_model_path))
    model.nlp.max_length = 100
    with pytest.raises(DataError, match="longer than the NER pipeline takes"):
        model.find("word " * 30)
