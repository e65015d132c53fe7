"""Held-out comparison of a candidate with the active model, and the activation gate.

``evaluate_candidate`` runs both models over the held-out set (one scratch action server);
``compare`` gives per-intent F1 before/after, service accuracy and the examples that got
worse; ``gate`` refuses a candidate that is worse on any intent by more than the margin.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from servicecenter.dialogue import slug_for
from servicecenter.settings import Settings, get_trainer_settings
from servicecenter.trainer.jobs import sha256_file, trainer_dir

NO_SERVICE = "(keine Leistung)"


def expected_label(expected: Mapping[str, Any]) -> str:
    from servicecenter.dialogue import intent_for

    service = expected.get("service")
    return intent_for(service) if service else NO_SERVICE


def predicted_label(got: Mapping[str, Any]) -> str:
    intent = got.get("intent") or ""
    return intent if slug_for(intent) else NO_SERVICE


def heldout_predictions(settings: Settings, model: Path, actions_url: str, work: Path) -> List[Dict[str, Any]]:
    """Run the held-out set through ``model`` (scratch database, the given action server)."""
    from servicecenter.batch import run_batch_file
    from servicecenter.evaluation.dataset import HELDOUT_FILE, load_jsonl

    models_dir = work / f"m-{secrets.token_hex(4)}"
    (models_dir / "rasa").mkdir(parents=True)
    os.symlink(model.resolve(), models_dir / "rasa" / "model.tar.gz")
    scoped = settings.copy(update={"models_dir": models_dir})
    out = work / f"predictions-{secrets.token_hex(4)}.jsonl"
    run_batch_file(HELDOUT_FILE, out, scoped, actions_url=actions_url)
    return load_jsonl(out)


def compare(cases: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]],
            after: Sequence[Mapping[str, Any]], margin: float) -> Dict[str, Any]:
    """Per-intent F1, service accuracy and worse examples of two prediction sets; the gate."""
    from servicecenter.evaluation.dataset import align
    from servicecenter.evaluation.metrics import label_scores, service_accuracy

    turns_before, turns_after = align(cases, before), align(cases, after)
    expected = [expected_label(t.expected) for t in turns_before]
    scores_before = label_scores(expected, [predicted_label(t.got) for t in turns_before])
    scores_after = label_scores(expected, [predicted_label(t.got) for t in turns_after])
    labels = sorted(set(scores_before["per_label"]) | set(scores_after["per_label"]))
    per_intent = []
    for label in labels:
        b = scores_before["per_label"].get(label, {"f1": 0.0, "support": 0})
        a = scores_after["per_label"].get(label, {"f1": 0.0, "support": 0})
        support = max(int(b["support"]), int(a["support"]))
        per_intent.append({
            "intent": label, "before": round(b["f1"], 4), "after": round(a["f1"], 4),
            "delta": round(a["f1"] - b["f1"], 4), "support": support,
            "worse": support > 0 and a["f1"] < b["f1"] - margin - 1e-9,
        })
    worse_examples = []
    better_examples = 0
    for tb, ta in zip(turns_before, turns_after, strict=True):
        right_before = tb.got.get("service") == tb.expected.get("service")
        right_after = ta.got.get("service") == ta.expected.get("service")
        if right_before and not right_after:
            worse_examples.append({
                "id": tb.case_id, "turn": tb.index, "text": tb.text,
                "expected": tb.expected.get("service"), "before": tb.got.get("service"),
                "after": ta.got.get("service"), "intent_after": ta.got.get("intent"),
            })
        elif right_after and not right_before:
            better_examples += 1
    acc_before = service_accuracy(turns_before) or 0.0
    acc_after = service_accuracy(turns_after) or 0.0
    result = {
        "turns": len(turns_before),
        "margin": margin,
        "service_accuracy": {"before": round(acc_before, 4), "after": round(acc_after, 4),
                             "delta": round(acc_after - acc_before, 4)},
        "macro_f1": {"before": round(scores_before["macro_f1"], 4), "after": round(scores_after["macro_f1"], 4)},
        "per_intent": per_intent,
        "worse_examples": worse_examples,
        "better_examples": better_examples,
    }
    result["gate"] = gate(result, margin)
    return result


def gate(comparison: Mapping[str, Any], margin: float) -> Dict[str, Any]:
    """Passed unless an intent's F1 or the service accuracy drops by more than ``margin``."""
    worse = [row["intent"] for row in comparison["per_intent"]
             if row["support"] > 0 and row["after"] < row["before"] - margin - 1e-9]
    acc = comparison["service_accuracy"]
    accuracy_drop = acc["after"] < acc["before"] - margin - 1e-9
    reasons = []
    if worse:
        reasons.append(f"{len(worse)} Anliegen schlechter als erlaubt ({margin:.2f}): " + ", ".join(worse[:10]))
    if accuracy_drop:
        reasons.append(f"Trefferquote Leistungen sinkt von {acc['before']:.3f} auf {acc['after']:.3f}")
    return {"passed": not worse and not accuracy_drop, "worse_intents": worse, "reasons": reasons}


def evaluate_candidate(settings: Settings, candidate: Path, active: Path,
                       margin: Optional[float] = None) -> Dict[str, Any]:
    """Both models over the held-out set with one action server; the comparison and gate."""
    from servicecenter.evaluation.dataset import heldout_cases
    from servicecenter.stack import free_port, start_actions

    margin = get_trainer_settings().gate_margin if margin is None else margin
    cases = heldout_cases()
    with tempfile.TemporaryDirectory(prefix="trainer-eval-") as tmp:
        work = Path(tmp)
        from servicecenter.batch import isolated_settings

        scratch = isolated_settings(settings, work)
        port = free_port()
        actions = start_actions(scratch, port, work)
        try:
            url = f"http://127.0.0.1:{port}/webhook"
            before = _cached_predictions(settings, active, lambda: heldout_predictions(settings, active, url, work))
            after = heldout_predictions(settings, candidate, url, work)
        finally:
            actions.popen.terminate()
            actions.popen.wait(timeout=15)
    result = compare(cases, before, after, margin)
    result["active_sha256"] = sha256_file(active)
    result["candidate_sha256"] = sha256_file(candidate)
    return result


def _cached_predictions(settings: Settings, model: Path, run: Callable[[], List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The active model's held-out predictions, kept per model hash and held-out file hash."""
    from servicecenter.evaluation.dataset import HELDOUT_FILE

    key = f"{sha256_file(model)[:16]}-{sha256_file(HELDOUT_FILE)[:16]}"
    cache = trainer_dir(settings) / "eval-cache" / f"{key}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    predictions = run()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    return predictions

