"""The evaluation as people read it: the console table, ``eval_summary.md`` and the
service confusion matrix (PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from servicecenter.evaluation.metrics import NONE_LABEL


def fmt(value: Optional[float], signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


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


def format_table(summary: Mapping[str, Any]) -> str:
    a, b = summary["assistant"], summary["baseline"]
    targets = {t["name"]: t for t in summary["targets"]}
    acc_t, margin_t = targets["service accuracy"], targets["service accuracy over baseline"]

    def status(t: Mapping[str, Any]) -> str:
        return "met" if t["met"] else "MISSED"

    rows = [
        ("metric", "assistant", "baseline", "difference", "target", "status"),
        ("service accuracy", fmt(a["service_accuracy"]), fmt(b["service_accuracy"]),
         fmt(summary["difference"], signed=True), acc_t["target"], status(acc_t)),
        ("  difference to baseline", "", "", fmt(summary["difference"], signed=True),
         margin_t["target"], status(margin_t)),
        ("outcome accuracy", fmt(a["outcome_accuracy"]), "", "", "", ""),
        (f"department accuracy ({a['handoff_turns']} handoffs)", fmt(a["department_accuracy"]), "", "", "", ""),
        ("service macro F1", fmt(a["service_macro_f1"]), fmt(b["service_macro_f1"]), "", "", ""),
        ("outcome macro F1", fmt(a["outcome_macro_f1"]), "", "", "", ""),
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
        f"| service accuracy | {fmt(a['service_accuracy'])} | {fmt(b['service_accuracy'])} | "
        f"{fmt(summary['difference'], True)} | {acc_t['target']} | {'met' if acc_t['met'] else '**missed**'} |",
        f"| difference to baseline | | | {fmt(summary['difference'], True)} | {margin_t['target']} | "
        f"{'met' if margin_t['met'] else '**missed**'} |",
        f"| outcome accuracy | {fmt(a['outcome_accuracy'])} | | | | |",
        f"| department accuracy (handoff turns) | {fmt(a['department_accuracy'])} | | | | |",
        f"| service macro F1 | {fmt(a['service_macro_f1'])} | {fmt(b['service_macro_f1'])} | | | |",
        f"| outcome macro F1 | {fmt(a['outcome_macro_f1'])} | | | | |",
        f"| clarification candidate recall | {fmt(a['candidate_recall'])} | | | | |",
        "",
        "Service accuracy by channel: " + ", ".join(
            f"{ch} {fmt(v['service_accuracy'])} ({v['turns']} turns)" for ch, v in a["by_channel"].items()
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
            f"Intent accuracy {fmt(nlu['accuracy'])}, macro F1 {fmt(nlu['macro_f1'])}, weighted F1 "
            f"{fmt(nlu['weighted_f1'])} on {nlu['test_examples']} test examples of {nlu['intents']} intents.",
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


def print_summary(summary: Mapping[str, Any]) -> None:
    """The figures on the console, with a warning line for every missed target."""
    nlu = summary.get("nlu_split")
    if nlu and "error" not in nlu and not nlu.get("skipped"):
        print(f"\nNLU split test ({nlu['test_examples']} examples, {nlu['intents']} intents): "
              f"accuracy {fmt(nlu['accuracy'])}, macro F1 {fmt(nlu['macro_f1'])}, "
              f"weighted F1 {fmt(nlu['weighted_f1'])}")
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
