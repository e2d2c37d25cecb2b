"""Names of people, places and organisations through a spaCy pipeline the user provides.

spaCy's English models are not on PyPI under their own names (there is no
``en_core_web_sm`` distribution there), and Presidio's default engine fails
on a machine without internet because it looks them up online. veil never
downloads: it loads a pipeline that is installed as a package (by name) or
saved in a folder (by path), and says how to get one when there is none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from veil.errors import DataError, ParameterError
from veil.pii.findings import Finding

__all__ = ["LABELS", "NerModel", "load_ner"]

#: spaCy's labels (OntoNotes and WikiNER schemes) mapped to veil's entity types.
LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
}

_HOW_TO_GET_ONE = (
    "install a spaCy pipeline first: spaCy's models are not on PyPI under their own "
    "names; download a wheel such as en_core_web_sm from "
    "https://github.com/explosion/spacy-models/releases on a connected machine, copy it "
    "over and `pip install en_core_web_sm-3.8.0-py3-none-any.whl`, or save a trained "
    "pipeline with nlp.to_disk(FOLDER) and give that folder"
)


class NerModel:
    """A loaded spaCy pipeline used for PERSON, LOCATION and ORGANIZATION findings.

    Parameters
    ----------
    nlp
        A spaCy ``Language`` with an ``ner`` component.
    name
        How it was named (package or folder), reported as the findings' source.
    confidence
        The score given to its entities (spaCy's NER has no calibrated scores).
    """

    def __init__(self, nlp: Any, name: str, *, confidence: float = 0.85) -> None:
        if "ner" not in nlp.pipe_names:
            raise ParameterError(
                f"the spaCy pipeline {name!r} has no 'ner' component (it has: "
                f"{', '.join(nlp.pipe_names) or 'none'}); give one trained for named entities"
            )
        self.nlp = nlp
        self.name = name
        self.confidence = confidence
        # Only the entity recogniser and what feeds it: the parser, tagger and
        # lemmatizer would cost time for nothing here.
        keep = {"ner", "tok2vec", "transformer"}
        self._disabled = [p for p in nlp.pipe_names if p not in keep]
        self.source = f"ner:{name}"
        if nlp.max_length < 2_000_000:
            nlp.max_length = 2_000_000

    def find(self, text: str) -> list[Finding]:
        """The entities in one text."""
        return next(iter(self.find_many([text])))

    def find_many(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[list[Finding]]:
        """The entities of each text, processed in batches (``nlp.pipe``)."""
        with self.nlp.select_pipes(disable=self._disabled):
            for doc in self.nlp.pipe(self._checked(texts), batch_size=batch_size):
                yield [
                    Finding(
                        ent.start_char,
                        ent.end_char,
                        LABELS[ent.label_],
                        self.confidence,
                        self.source,
                        ent.text,
                    )
                    for ent in doc.ents
                    if ent.label_ in LABELS
                ]

    def _checked(self, texts: Iterable[str]) -> Iterator[str]:
        limit = self.nlp.max_length
        for text in texts:
            if len(text) > limit:
                raise DataError(
                    f"a text of {len(text):,} characters is longer than the NER pipeline takes "
                    f"({limit:,}); split it into lines or paragraphs"
                )
            yield text


def load_ner(model: str | os.PathLike[str] | Any) -> NerModel:
    """Load a spaCy pipeline by package name or folder, never reaching the network.

    Parameters
    ----------
    model
        An installed package name (``"en_core_web_sm"``), a folder saved by
        ``nlp.to_disk``, or an already loaded ``Language``.

    Raises
    ------
    ParameterError
        spaCy is not installed (the ``ner`` extra), or no pipeline has that
        name or path: the message says how to get one.
    """
    if model is not None and hasattr(model, "pipe_names"):
        return NerModel(model, getattr(model, "meta", {}).get("name", "pipeline"))
    try:
        import spacy
    except ImportError:
        raise ParameterError(
            "named-entity recognition needs spaCy: pip install 'veil[ner]', then " + _HOW_TO_GET_ONE
        ) from None
    text = str(model)
    path = Path(text).expanduser()
    looks_like_path = os.sep in text or text.startswith(".") or path.exists()
    if looks_like_path and not path.is_dir():
        raise ParameterError(f"NER model folder {text!r} does not exist; {_HOW_TO_GET_ONE}")
    if not looks_like_path and not spacy.util.is_package(text):
        raise ParameterError(f"no spaCy pipeline named {text!r} is installed; {_HOW_TO_GET_ONE}")
    try:
        nlp = spacy.load(path if looks_like_path else text)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ParameterError(f"could not load the spaCy pipeline {text!r}: {first}") from err
    return NerModel(nlp, text)
