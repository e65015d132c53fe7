"""Measured quality: Rasa's NLU split test, the held-out conversations, and a BM25 baseline.

``run_evaluation`` writes everything to ``reports/``:

- ``nlu_split/``                Rasa's own NLU test on a seeded 80/20 split of ``bot/data``
- ``heldout_predictions.jsonl`` what the assistant did with each held-out turn
- ``heldout_errors.jsonl``      every turn where service, outcome or department was wrong
- ``confusion_services.png``    confusion matrix of the service labels
- ``eval_summary.json/.md``     all figures, the baseline and the targets

The held-out set is only read here; it never feeds training or tuning.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from servicecenter import PROJECT_ROOT
from servicecenter.settings import Settings

log = logging.getLogger(__name__)

REPORTS_DIR = PROJECT_ROOT / "reports"
HELDOUT_FILE = PROJECT_ROOT / "tests" / "eval" / "heldout.jsonl"
NONE_LABEL = "none"
TARGET_SERVICE_ACCURACY = 0.95
TARGET_MARGIN_OVER_BASELINE = 0.30
SPLIT_SEED = 42
SPLIT_TRAIN_FRACTION = 0.8
WEAKEST_INTENTS = 10
RASA = Path(sys.executable).parent / "rasa"


class EvaluationError(RuntimeError):
    """The evaluation could not run; the message says which step failed and why."""


# --------------------------------------------------------------------------- turn metrics


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


def plot_confusion(expected: Sequence[str], predicted: Sequence[str], path: Path, title: str) -> None:
    """Confusion matrix of labels as a PNG; 'none' first, then alphabetical."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(expected) | set(predicted), key=lambda x: (x != NONE_LABEL, x))
    matrix = confusion_matrix(expected, predicted, labels=labels)
    size = max(8.0, 0.32 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    # Log-scaled colours keep single confusions visible next to a full diagonal.
    shown = [[math.log1p(v) for v in row] for row in matrix]
    image = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    ax.set_xticks(range(len(labels)))
    ax.set_yticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=8)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted service")
    ax.set_ylabel("expected service")
    ax.set_title(title)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                colour = "white" if i == j else "firebrick"
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.03, label="log(1 + turns)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- BM25 baseline

# Function words only: content words ("brauche", "kosten") stay searchable, as on a web site.
STOP_WORDS = frozenset("""
aber alle alles als also am an auch auf aus bei bin bis bitte da damit dann das dass dem den denn der des
dich die dir doch du ein eine einem einen einer eines er es etwas fuer gibt habe haben hallo hat ich ihr
im in ist ja jetzt kann koennen man mein meine meinem meinen meiner mich mir mit moechte muss nach nicht noch
nur ob oder sich sie sind so soll und uns unser vom von vor war was welche welcher welches wenn wer wie wir
wird wo zu zum zur aeh aehm hm mal eigentlich ueber um
""".split())

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NON_LETTERS = re.compile(r"[^a-z]+")


def tokenize(text: str) -> List[str]:
    """Lower case, fold umlauts, split on non-letters, drop stop words and single letters."""
    folded = text.lower().translate(_FOLD)
    return [tok for tok in _NON_LETTERS.split(folded) if len(tok) > 1 and tok not in STOP_WORDS]


class Bm25Baseline:
    """Keyword search over the service pages, as a town web site's search box would do it."""

    def __init__(self, documents: Mapping[str, str]):
        from rank_bm25 import BM25Okapi

        self.slugs = list(documents)
        self._bm25 = BM25Okapi([tokenize(documents[s]) for s in self.slugs])

    @classmethod
    def from_knowledge(cls, kb: Any) -> "Bm25Baseline":
        return cls({slug: service_document(svc) for slug, svc in sorted(kb.services.items())})

    def scores(self, text: str) -> Dict[str, float]:
        query = tokenize(text)
        if not query:
            return {slug: 0.0 for slug in self.slugs}
        return dict(zip(self.slugs, (float(s) for s in self._bm25.get_scores(query)), strict=True))

    def predict(self, text: str) -> Optional[str]:
        """Top-1 service; None when no word of the text occurs in any page (best score 0)."""
        scores = self.scores(text)
        best = max(self.slugs, key=lambda s: scores[s])
        return best if scores[best] > 0 else None


def service_document(service: Any) -> str:
    return " ".join([service.name, *service.synonyms, service.teaser, service.text])


def baseline_turns(turns: Sequence[Turn], baseline: Bm25Baseline) -> List[Turn]:
    """The same turns with the baseline's prediction (each text alone: a search box has no context)."""
    return [
        Turn(t.case_id, t.index, t.channel, t.text, t.expected, {"service": baseline.predict(t.text)})
        for t in turns
    ]


# --------------------------------------------------------------------------- targets and summary


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


def by_channel(turns: Sequence[Turn]) -> Dict[str, Dict[str, Any]]:
    result = {}
    for channel in sorted({t.channel for t in turns}):
        subset = [t for t in turns if t.channel == channel]
        result[channel] = {"turns": len(subset), "service_accuracy": service_accuracy(subset)}
    return result


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


def _fmt(value: Optional[float], signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def format_table(summary: Mapping[str, Any]) -> str:
    a, b = summary["assistant"], summary["baseline"]
    targets = {t["name"]: t for t in summary["targets"]}
    acc_t, margin_t = targets["service accuracy"], targets["service accuracy over baseline"]

    def status(t: Mapping[str, Any]) -> str:
        return "met" if t["met"] else "MISSED"

    rows = [
        ("metric", "assistant", "baseline", "difference", "target", "status"),
        ("service accuracy", _fmt(a["service_accuracy"]), _fmt(b["service_accuracy"]),
         _fmt(summary["difference"], signed=True), acc_t["target"], status(acc_t)),
        ("  difference to baseline", "", "", _fmt(summary["difference"], signed=True),
         margin_t["target"], status(margin_t)),
        ("outcome accuracy", _fmt(a["outcome_accuracy"]), "", "", "", ""),
        (f"department accuracy ({a['handoff_turns']} handoffs)", _fmt(a["department_accuracy"]), "", "", "", ""),
        ("service macro F1", _fmt(a["service_macro_f1"]), _fmt(b["service_macro_f1"]), "", "", ""),
        ("outcome macro F1", _fmt(a["outcome_macro_f1"]), "", "", "", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(summary: Mapping[str, Any]) -> str:
    a, b, h = summary["assistant"], summary["baseline"], summary["heldout"]
    out = [
        "# Evaluation summary",
        "",
        f"Generated {summary['generated_at']} with model `{summary['model']}` "
        f"(trained {summary['model_trained_at']}).",
        f"Held-out set: {h['cases']} conversations, {h['turns']} turns "
        f"({h['handoff_turns']} handoff turns). Baseline: {b['method']}.",
        "",
        "## Held-out conversations",
        "",
        "| metric | assistant | baseline | difference | target | status |",
        "|---|---|---|---|---|---|",
    ]
    targets = {t["name"]: t for t in summary["targets"]}
    acc_t, margin_t = targets["service accuracy"], targets["service accuracy over baseline"]
    out += [
        f"| service accuracy | {_fmt(a['service_accuracy'])} | {_fmt(b['service_accuracy'])} | "
        f"{_fmt(summary['difference'], True)} | {acc_t['target']} | {'met' if acc_t['met'] else '**missed**'} |",
        f"| difference to baseline | | | {_fmt(summary['difference'], True)} | {margin_t['target']} | "
        f"{'met' if margin_t['met'] else '**missed**'} |",
        f"| outcome accuracy | {_fmt(a['outcome_accuracy'])} | | | | |",
        f"| department accuracy (handoff turns) | {_fmt(a['department_accuracy'])} | | | | |",
        f"| service macro F1 | {_fmt(a['service_macro_f1'])} | {_fmt(b['service_macro_f1'])} | | | |",
        f"| outcome macro F1 | {_fmt(a['outcome_macro_f1'])} | | | | |",
        f"| clarification candidate recall | {_fmt(a['candidate_recall'])} | | | | |",
        "",
        "Service accuracy by channel: " + ", ".join(
            f"{ch} {_fmt(v['service_accuracy'])} ({v['turns']} turns)" for ch, v in a["by_channel"].items()
        ) + ".",
        "",
    ]
    nlu = summary.get("nlu_split")
    if nlu and nlu.get("skipped"):
        out += ["## NLU split test", "", "Skipped in this run (`--skip-nlu-split`).", ""]
    elif nlu and "error" in nlu:
        out += ["## NLU split test", "", f"Failed: {nlu['error']}", ""]
    elif nlu:
        out += [
            "## NLU split test (Rasa, seeded 80/20 split of the training data)",
            "",
            f"Intent accuracy {_fmt(nlu['accuracy'])}, macro F1 {_fmt(nlu['macro_f1'])}, weighted F1 "
            f"{_fmt(nlu['weighted_f1'])} on {nlu['test_examples']} test examples of {nlu['intents']} intents.",
            "",
            "| weakest intents | F1 | precision | recall | support |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {i['intent']} | {i['f1']:.3f} | {i['precision']:.3f} | {i['recall']:.3f} | {i['support']} |"
            for i in nlu["weakest"]
        ]
        out.append("")
    weakest = sorted(a["per_service"].items(), key=lambda kv: (kv[1]["f1"], kv[0]))[:15]
    out += ["## Weakest services (held-out F1)", "", "| service | F1 | precision | recall | support |",
            "|---|---|---|---|---|"]
    out += [
        f"| {label} | {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['support']} |"
        for label, s in weakest
    ]
    out += ["", f"{summary['errors']} turns with an error are listed in `reports/heldout_errors.jsonl`; "
            "the service confusion matrix is `reports/confusion_services.png`.", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- steps


def _run(cmd: List[str], step: str) -> None:
    log.info("%s: %s", step, " ".join(cmd))
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise EvaluationError(f"{step} failed (exit {result.returncode}):\n{tail}")


def run_nlu_split(out_dir: Path, work_dir: Path) -> Dict[str, Any]:
    """Split bot/data 80/20 (fixed seed), train NLU on 80 %, test on 20 % with ``rasa test nlu``."""
    split_dir, model_dir = work_dir / "split", work_dir / "model"
    _run([str(RASA), "data", "split", "nlu", "--nlu", str(PROJECT_ROOT / "bot" / "data"),
          "--training-fraction", str(SPLIT_TRAIN_FRACTION), "--random-seed", str(SPLIT_SEED),
          "--out", str(split_dir)], "rasa data split nlu")
    _run([str(RASA), "train", "nlu", "--config", str(PROJECT_ROOT / "config.yml"),
          "--nlu", str(split_dir / "training_data.yml"), "--out", str(model_dir),
          "--fixed-model-name", "nlu-split"], "rasa train nlu")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    _run([str(RASA), "test", "nlu", "--nlu", str(split_dir / "test_data.yml"),
          "--model", str(model_dir / "nlu-split.tar.gz"), "--out", str(out_dir)], "rasa test nlu")
    report_path = out_dir / "intent_report.json"
    if not report_path.exists():
        raise EvaluationError(f"rasa test nlu wrote no {report_path}")
    summary = summarize_intent_report(json.loads(report_path.read_text(encoding="utf-8")))
    summary["seed"], summary["train_fraction"] = SPLIT_SEED, SPLIT_TRAIN_FRACTION
    return summary


def evaluate_heldout(
    cases: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]], baseline: Bm25Baseline
) -> tuple[Dict[str, Any], List[Turn]]:
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
            "method": "BM25 (rank_bm25.BM25Okapi) over service name, synonyms, teaser and text; "
                      "top-1 per turn text, no service when no query word matches",
            "service_accuracy": baseline_acc,
            "service_macro_f1": base_services["macro_f1"],
            "by_channel": by_channel(base),
        },
        "difference": assistant_acc - baseline_acc,
        "targets": check_targets(assistant_acc, baseline_acc),
    }
    return figures, turns


def _write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_evaluation(settings: Settings, nlu_split: bool = True) -> int:
    """Run every measurement, write reports/, print the table; 0 unless a step crashed."""
    from servicecenter.batch import quiet_rasa, run_batch_file
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.stack import latest_model

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
        cases = load_jsonl(HELDOUT_FILE)
        predictions_path = REPORTS_DIR / "heldout_predictions.jsonl"
        quiet_rasa()
        run_batch_file(HELDOUT_FILE, predictions_path, settings)
        predictions = load_jsonl(predictions_path)

    kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
    figures, turns = evaluate_heldout(cases, predictions, Bm25Baseline.from_knowledge(kb))
    summary.update(figures)
    errors = error_records(turns)
    summary["errors"] = len(errors)
    _write_jsonl(REPORTS_DIR / "heldout_errors.jsonl", errors)
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

    nlu = summary.get("nlu_split")
    if nlu and "error" not in nlu and not nlu.get("skipped"):
        print(f"\nNLU split test ({nlu['test_examples']} examples, {nlu['intents']} intents): "
              f"accuracy {_fmt(nlu['accuracy'])}, macro F1 {_fmt(nlu['macro_f1'])}, "
              f"weighted F1 {_fmt(nlu['weighted_f1'])}")
        print("weakest intents: " + ", ".join(f"{i['intent']} {i['f1']:.2f}" for i in nlu["weakest"]))
    h = summary["heldout"]
    print(f"\nHeld-out set: {h['cases']} conversations, {h['turns']} turns\n")
    print(format_table(summary))
    print(f"\n{summary['errors']} turns with errors: reports/heldout_errors.jsonl")
    print("reports: reports/eval_summary.md, reports/eval_summary.json, reports/confusion_services.png")
    for target in summary["targets"]:
        if not target["met"]:
            print(f"WARNING: target missed: {target['name']} is {target['value']:.3f}, "
                  f"needs {target['target']}", flush=True)
    return exit_code
