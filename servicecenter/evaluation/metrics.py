"""Figures of a set of turns: accuracies, per-label scores, error records and the targets."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from servicecenter.evaluation.dataset import Turn

NONE_LABEL = "none"
TARGET_SERVICE_ACCURACY = 0.95
TARGET_MARGIN_OVER_BASELINE = 0.30
WEAKEST_INTENTS = 10


def service_label(service: Optional[str]) -> str:
    return service or NONE_LABEL


def _ratio(hits: int, total: int) -> Optional[float]:
    return hits / total if total else None


def service_accuracy(turns: Sequence[Turn]) -> Optional[float]:
    """Share of turns whose predicted service equals the expected one (null included)."""
    return _ratio(sum(t.got.get("service") == t.expected.get("service") for t in turns), len(turns))


def outcome_accuracy(turns: Sequence[Turn]) -> Optional[float]:
    return _ratio(sum(t.got.get("outcome") == t.expected.get("outcome") for t in turns), len(turns))


def handoff_turns(turns: Sequence[Turn]) -> List[Turn]:
    return [t for t in turns if t.expected.get("outcome") == "handoff"]


def department_accuracy(turns: Sequence[Turn]) -> Optional[float]:
    """Share of expected handoff turns that went to the expected department (None: no such turns)."""
    handoffs = handoff_turns(turns)
    return _ratio(sum(t.got.get("department") == t.expected.get("department") for t in handoffs), len(handoffs))


def candidate_recall(turns: Sequence[Turn]) -> Optional[float]:
    """Mean share of the expected clarification candidates that the assistant offered."""
    scores = [
        len(set(t.expected["candidates"]) & set(t.got.get("candidates") or [])) / len(t.expected["candidates"])
        for t in turns
        if t.expected.get("candidates")
    ]
    return sum(scores) / len(scores) if scores else None


def label_scores(expected: Sequence[str], predicted: Sequence[str]) -> Dict[str, Any]:
    """Per-label precision/recall/F1 plus macro and weighted F1 over all labels seen."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(expected) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, predicted, labels=labels, zero_division=0
    )
    _, _, macro_f1, _ = precision_recall_fscore_support(
        expected, predicted, labels=labels, average="macro", zero_division=0
    )
    _, _, weighted_f1, _ = precision_recall_fscore_support(
        expected, predicted, labels=labels, average="weighted", zero_division=0
    )
    return {
        "macro_f1": float(macro_f1),
        "weighted_f1": float(weighted_f1),
        "per_label": {
            label: {
                "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


def service_scores(turns: Sequence[Turn]) -> Dict[str, Any]:
    return label_scores(
        [service_label(t.expected.get("service")) for t in turns],
        [service_label(t.got.get("service")) for t in turns],
    )


def outcome_scores(turns: Sequence[Turn]) -> Dict[str, Any]:
    return label_scores(
        [str(t.expected.get("outcome")) for t in turns],
        [str(t.got.get("outcome")) for t in turns],
    )


def by_channel(turns: Sequence[Turn]) -> Dict[str, Dict[str, Any]]:
    result = {}
    for channel in sorted({t.channel for t in turns}):
        subset = [t for t in turns if t.channel == channel]
        result[channel] = {"turns": len(subset), "service_accuracy": service_accuracy(subset)}
    return result


def wrong_fields(turn: Turn) -> List[str]:
    wrong = []
    if turn.got.get("service") != turn.expected.get("service"):
        wrong.append("service")
    if turn.got.get("outcome") != turn.expected.get("outcome"):
        wrong.append("outcome")
    if turn.expected.get("outcome") == "handoff" and turn.got.get("department") != turn.expected.get("department"):
        wrong.append("department")
    return wrong


def error_records(turns: Sequence[Turn]) -> List[Dict[str, Any]]:
    """Every turn with a wrong service, outcome or (on handoff turns) department."""
    records = []
    for turn in turns:
        wrong = wrong_fields(turn)
        if not wrong:
            continue
        records.append({
            "id": turn.case_id,
            "turn": turn.index,
            "channel": turn.channel,
            "text": turn.text,
            "wrong": wrong,
            "expected": {k: turn.expected.get(k) for k in ("service", "outcome", "department", "candidates")
                         if k in turn.expected},
            "got": {
                "service": turn.got.get("service"),
                "outcome": turn.got.get("outcome"),
                "department": turn.got.get("department"),
                "intent": turn.got.get("intent"),
                "confidence": turn.got.get("confidence"),
                "candidates": turn.got.get("candidates"),
            },
        })
    return records


def check_targets(assistant_accuracy: float, baseline_accuracy: float) -> List[Dict[str, Any]]:
    margin = assistant_accuracy - baseline_accuracy
    return [
        {
            "name": "service accuracy",
            "target": f">= {TARGET_SERVICE_ACCURACY:.2f}",
            "value": assistant_accuracy,
            "met": assistant_accuracy >= TARGET_SERVICE_ACCURACY,
        },
        {
            "name": "service accuracy over baseline",
            "target": f">= +{TARGET_MARGIN_OVER_BASELINE:.2f}",
            "value": margin,
            # Rounded so that floating-point noise cannot flip an exact hit to "missed".
            "met": round(margin, 9) >= TARGET_MARGIN_OVER_BASELINE,
        },
    ]


def summarize_intent_report(report: Mapping[str, Any], weakest: int = WEAKEST_INTENTS) -> Dict[str, Any]:
    """Macro/weighted F1 and the weakest intents from Rasa's ``intent_report.json``."""
    aggregates = {"accuracy", "macro avg", "weighted avg", "micro avg"}
    intents = [
        {"intent": name, "f1": float(v["f1-score"]), "precision": float(v["precision"]),
         "recall": float(v["recall"]), "support": int(v["support"])}
        for name, v in report.items()
        if name not in aggregates and isinstance(v, Mapping) and "f1-score" in v
    ]
    intents.sort(key=lambda i: (i["f1"], -i["support"], i["intent"]))
    accuracy = report.get("accuracy")
    return {
        "accuracy": float(accuracy) if isinstance(accuracy, (int, float)) else None,
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "weighted_f1": float(report["weighted avg"]["f1-score"]),
        "intents": len(intents),
        "test_examples": sum(i["support"] for i in intents),
        "weakest": intents[:weakest],
    }
