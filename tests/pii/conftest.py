"""A tiny spaCy NER pipeline trained on generated sentences, shared by the NER tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

PEOPLE = ["Maria Garcia", "John Smith", "Ana Silva", "Peter Novak", "Yuki Tanaka", "Omar Khan"]
PLACES = ["Madrid", "London", "Boston", "Lisbon", "Kyoto", "Cairo"]
ORGS = ["Acme Health", "Northwind Bank", "Globex Clinic"]
TEMPLATES = [
    "{p} flew to {c} on Monday.",
    "Yesterday {p} met the doctor in {c}.",
    "The report for {p} was sent by {o}.",
    "{o} hired {p} in {c} last year.",
    "We called {p} about the visit.",
]


def make_sentences(n: int, seed: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        template = rng.choice(TEMPLATES)
        values = {"p": rng.choice(PEOPLE), "c": rng.choice(PLACES), "o": rng.choice(ORGS)}
        labels = {"p": "PERSON", "c": "GPE", "o": "ORG"}
        text, spans = "", []
        for part in template.replace("}", "{").split("{"):
            if part in values:
                spans.append((len(text), len(text) + len(values[part]), labels[part]))
                text += values[part]
            else:
                text += part
        out.append((text, spans))
    return out


@pytest.fixture(scope="session")
def ner_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spaCy NER pipeline saved to a folder: trained in a few seconds on generated text."""
    spacy = pytest.importorskip("spacy")
    from spacy.training import Example

    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in ("PERSON", "GPE", "ORG"):
        ner.add_label(label)
    data = make_sentences(120, seed=0)
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": s}) for t, s in data]
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(0)
    for _ in range(12):
        rng.shuffle(examples)
        for start in range(0, len(examples), 16):
            nlp.update(examples[start : start + 16], sgd=optimizer, drop=0.1)
    folder = tmp_path_factory.mktemp("ner") / "tiny_ner"
    nlp.to_disk(folder)
    return folder
