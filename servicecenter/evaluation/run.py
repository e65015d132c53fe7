"""``assistant eval``: every measurement in one run, written to ``reports/``.

- ``nlu_split/``                Rasa's own NLU test on a seeded 80/20 split of ``bot/data``
- ``heldout_predictions.jsonl`` what the assistant did with each held-out turn
- ``heldout_errors.jsonl``      every turn where service, outcome or department was wrong
- ``confusion_services.png``    confusion matrix of the service labels
- ``eval_summary.json/.md``     all figures, the baseline and the targets
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from servicecenter import PROJECT_ROOT
from servicecenter.batch import quiet_rasa, run_batch_file
from servicecenter.evaluation.baseline import METHOD, Bm25Baseline, baseline_turns
from servicecenter.evaluation.dataset import (
    HELDOUT_FILE,
    EvaluationError,
    Turn,
    align,
    heldout_cases,
    load_jsonl,
    write_jsonl,
)
from servicecenter.evaluation.metrics import (
    by_channel,
    candidate_recall,
    check_targets,
    department_accuracy,
    error_records,
    handoff_turns,
    outcome_accuracy,
    outcome_scores,
    service_accuracy,
    service_label,
    service_scores,
)
from servicecenter.evaluation.nlu_split import run_nlu_split
from servicecenter.evaluation.rendering import plot_confusion, print_summary, render_markdown
from servicecenter.knowledge.loader import load_knowledge
from servicecenter.settings import Settings
from servicecenter.stack import latest_model

REPORTS_DIR = PROJECT_ROOT / "reports"


def evaluate_heldout(
    cases: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]], baseline: Bm25Baseline
) -> Tuple[Dict[str, Any], List[Turn]]:
    """All held-out figures for the assistant and the baseline."""
    turns = align(cases, predictions)
    base = baseline_turns(turns, baseline)
    services, outcomes, base_services = service_scores(turns), outcome_scores(turns), service_scores(base)
    assistant_acc, baseline_acc = service_accuracy(turns), service_accuracy(base)
    assert assistant_acc is not None and baseline_acc is not None, "empty held-out set"
    figures = {
        "heldout": {"cases": len(cases), "turns": len(turns), "handoff_turns": len(handoff_turns(turns))},
        "assistant": {
            "service_accuracy": assistant_acc,
            "outcome_accuracy": outcome_accuracy(turns),
            "department_accuracy": department_accuracy(turns),
            "handoff_turns": len(handoff_turns(turns)),
            "service_macro_f1": services["macro_f1"],
            "service_weighted_f1": services["weighted_f1"],
            "outcome_macro_f1": outcomes["macro_f1"],
            "candidate_recall": candidate_recall(turns),
            "by_channel": by_channel(turns),
            "per_service": services["per_label"],
            "per_outcome": outcomes["per_label"],
        },
        "baseline": {
            "method": METHOD,
            "service_accuracy": baseline_acc,
            "service_macro_f1": base_services["macro_f1"],
            "by_channel": by_channel(base),
        },
        "difference": assistant_acc - baseline_acc,
        "targets": check_targets(assistant_acc, baseline_acc),
    }
    return figures, turns


def run_evaluation(settings: Settings, nlu_split: bool = True) -> int:
    """Run every measurement, write reports/, print the table; 0 unless a step crashed."""
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    model = latest_model(settings)
    exit_code = 0
    summary: Dict[str, Any] = {
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "model": str(model.relative_to(PROJECT_ROOT) if model.is_relative_to(PROJECT_ROOT) else model),
        "model_trained_at": dt.datetime.fromtimestamp(model.stat().st_mtime).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory(prefix="eval-") as tmp:
        work = Path(tmp)
        if nlu_split:
            print("• NLU split test: rasa data split / train nlu / test nlu (a few minutes)", flush=True)
            try:
                summary["nlu_split"] = run_nlu_split(REPORTS_DIR / "nlu_split", work / "nlu")
            except EvaluationError as err:
                print(f"error: {err}", file=sys.stderr)
                summary["nlu_split"] = {"error": str(err).splitlines()[0]}
                exit_code = 1
        else:
            summary["nlu_split"] = {"skipped": True}

        print(f"• held-out set: {HELDOUT_FILE.relative_to(PROJECT_ROOT)} through {summary['model']}", flush=True)
        cases = heldout_cases()
        predictions_path = REPORTS_DIR / "heldout_predictions.jsonl"
        quiet_rasa()
        run_batch_file(HELDOUT_FILE, predictions_path, settings)
        predictions = load_jsonl(predictions_path)

    kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
    figures, turns = evaluate_heldout(cases, predictions, Bm25Baseline.from_knowledge(kb))
    summary.update(figures)
    errors = error_records(turns)
    summary["errors"] = len(errors)
    write_jsonl(REPORTS_DIR / "heldout_errors.jsonl", errors)
    plot_confusion(
        [service_label(t.expected.get("service")) for t in turns],
        [service_label(t.got.get("service")) for t in turns],
        REPORTS_DIR / "confusion_services.png",
        f"Services on the held-out set ({len(turns)} turns)",
    )
    (REPORTS_DIR / "eval_summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (REPORTS_DIR / "eval_summary.md").write_text(render_markdown(summary), encoding="utf-8")
    print_summary(summary)
    return exit_code
