"""No test-set turn is in the training data: neither verbatim nor as a near-duplicate.

Counted the way ``../shared/tools/test_overlap.py`` counts (re-implemented here, so the test does
not depend on that tool): a turn and a training example are compared after lower-casing, dropping
punctuation and folding whitespace; a turn is *verbatim* when its normalised text is a training
example, a *near-duplicate* when the token sets of the two have a Jaccard similarity >= 0.7.
Training examples are every ``examples`` line of every ``nlu`` item in ``bot/data/**/*.yml``
(intents, synonyms and lookups, ``generated_knowledge.yml`` included), entity annotations removed.
Test sets are ``tests/eval/*.jsonl`` except development sets (``dev`` or ``train`` in the name).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Tuple

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.evaluation.dataset import HELDOUT_FILE, heldout_cases, heldout_texts

NEAR = 0.7
_WORD = re.compile(r"\w+")
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)|\[([^\]]+)\]\{[^}]+\}")


def normalize(text: str) -> str:
    """Lower-cased words joined by single spaces: punctuation and spacing make no difference."""
    return " ".join(_WORD.findall(text.lower()))


def _plain(line: str) -> str:
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line.strip().lstrip("- "))


@lru_cache(maxsize=1)
def training_examples() -> Dict[str, str]:
    """normalised training example -> 'file: intent' where it was first found."""
    examples: Dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "bot" / "data").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if not isinstance(item, dict):
                continue
            label = item.get("intent") or item.get("synonym") or item.get("lookup") or item.get("regex")
            for line in str(item.get("examples", "")).splitlines():
                text = _plain(line)
                if text:
                    examples.setdefault(normalize(text), f"{path.name}: {label}")
    return examples


@lru_cache(maxsize=1)
def _training_tokens() -> List[Tuple[str, FrozenSet[str]]]:
    return [(text, frozenset(text.split())) for text in training_examples() if text]


def overlap(turn: str) -> Tuple[str, str, float] | None:
    """('verbatim' | 'near-duplicate', training example, Jaccard) or None when the turn is new."""
    key = normalize(turn)
    if key in training_examples():
        return "verbatim", key, 1.0
    tokens = set(key.split())
    if not tokens:
        return None
    best, score = "", 0.0
    for text, other in _training_tokens():
        jaccard = len(tokens & other) / len(tokens | other)
        if jaccard > score:
            best, score = text, jaccard
    return ("near-duplicate", best, score) if score >= NEAR else None


def _test_sets() -> List[Path]:
    files = sorted((PROJECT_ROOT / "tests" / "eval").rglob("*.jsonl"))
    return [f for f in files if "dev" not in f.name and "train" not in f.name]


def test_the_training_data_is_read_whole() -> None:
    examples = training_examples()
    assert len(examples) > 1000
    files = {where.split(":")[0] for where in examples.values()}
    assert {"dialogue.yml", "generated_knowledge.yml"} <= files, files


def test_the_check_catches_verbatim_and_near_duplicate_turns() -> None:
    example = next(text for text in training_examples() if len(set(text.split())) >= 6)
    assert overlap(example.upper() + "?!")[0] == "verbatim"
    words = example.split()
    # The last word dropped: Jaccard >= 5/6 with the example itself.
    assert overlap(" ".join(words[:-1]))[0] in ("verbatim", "near-duplicate")
    assert overlap("Quodlibet xylophon zwetschgenkuchen") is None


def test_the_heldout_set_is_a_test_set_and_is_read_through_the_dataset_module() -> None:
    assert HELDOUT_FILE in _test_sets()
    cases = heldout_cases()
    assert cases and heldout_texts() == [t for case in cases for t in case["turns"]]


@pytest.mark.parametrize("path", _test_sets(), ids=lambda p: p.name)
def test_no_test_set_turn_is_in_the_training_data(path: Path) -> None:
    offending = []
    for text in heldout_texts(path):
        found = overlap(text)
        if found:
            kind, example, score = found
            offending.append(
                f"{kind}: {text!r} ~ {example!r} ({training_examples()[example]}, Jaccard {score:.2f})"
            )
    for line in offending:
        print(line)
    assert not offending, f"{len(offending)} turns of {path.name} overlap bot/data:\n" + "\n".join(offending)


@pytest.mark.parametrize("path", _test_sets(), ids=lambda p: p.name)
def test_no_turn_is_repeated_within_a_test_set(path: Path) -> None:
    seen: Dict[str, str] = {}
    repeated = []
    for text in heldout_texts(path):
        key = normalize(text)
        if key in seen:
            repeated.append(f"{text!r} repeats {seen[key]!r}")
        seen.setdefault(key, text)
    for line in repeated:
        print(line)
    assert not repeated, "\n".join(repeated)
