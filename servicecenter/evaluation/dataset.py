"""The held-out conversations (``tests/eval/heldout.jsonl``) and the pairing of their expected
turns with what the assistant did. Every reader of the held-out set goes through here.

Line: {"id": str, "channel": "chat" | "voice", "turns": [str, ...], "expected": [{"service",
"outcome", "department", "candidates"}, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Sequence

from servicecenter import PROJECT_ROOT

HELDOUT_FILE = PROJECT_ROOT / "tests" / "eval" / "heldout.jsonl"


class EvaluationError(RuntimeError):
    """The evaluation could not run; the message says which step failed and why."""


@dataclass(frozen=True)
class Turn:
    """One held-out turn: what was expected and what the assistant did."""

    case_id: str
    index: int
    channel: str
    text: str
    expected: Mapping[str, Any]
    got: Mapping[str, Any]


def load_jsonl(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def heldout_cases(path: Path = HELDOUT_FILE) -> List[Dict[str, Any]]:
    """Every held-out conversation, in file order."""
    return load_jsonl(path)


def heldout_texts(path: Path = HELDOUT_FILE) -> List[str]:
    """Every held-out turn text, in file order (fixed across runs)."""
    return [text for case in heldout_cases(path) for text in case["turns"]]


def align(cases: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]) -> List[Turn]:
    """Pair every expected turn with its predicted turn; a missing case or turn is an error."""
    by_id = {p["id"]: p for p in predictions}
    turns: List[Turn] = []
    for case in cases:
        prediction = by_id.get(case["id"])
        if prediction is None:
            raise EvaluationError(f"case '{case['id']}' has no prediction")
        if len(case["turns"]) != len(case["expected"]):
            raise EvaluationError(f"case '{case['id']}': turns and expected differ in length")
        if len(prediction["turns"]) != len(case["expected"]):
            raise EvaluationError(
                f"case '{case['id']}': {len(case['expected'])} expected turns, "
                f"{len(prediction['turns'])} predicted"
            )
        for index, (text, expected, got) in enumerate(zip(case["turns"], case["expected"], prediction["turns"], strict=True)):
            turns.append(Turn(case["id"], index, case.get("channel", "chat"), text, expected, got))
    return turns
