"""Command-line side of the trainer workbench: ``assistant train --candidate``,
``assistant evaluate`` and ``assistant activate`` (registered by ``servicecenter.cli``)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from servicecenter.settings import Settings
from servicecenter.trainer.errors import JobError


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def format_comparison(evaluation: Mapping[str, Any]) -> str:
    """The before/after table printed by the commands (and used in the closing notes)."""
    acc, f1 = evaluation["service_accuracy"], evaluation["macro_f1"]
    lines = [
        f"held-out turns: {evaluation['turns']}   gate margin: {evaluation['margin']:.3f}",
        "",
        f"{'metric':<34} {'active':>8} {'candidate':>10} {'delta':>8}",
        f"{'service accuracy':<34} {acc['before']:>8.3f} {acc['after']:>10.3f} {acc['after'] - acc['before']:>+8.3f}",
        f"{'intent macro F1':<34} {f1['before']:>8.3f} {f1['after']:>10.3f} {f1['after'] - f1['before']:>+8.3f}",
    ]
    changed = [r for r in evaluation["per_intent"] if r["delta"] != 0]
    if changed:
        lines += ["", f"{'intent (F1 changed)':<34} {'before':>8} {'after':>10} {'delta':>8} {'n':>4}"]
        for row in sorted(changed, key=lambda r: (r["delta"], r["intent"])):
            mark = "  WORSE" if row["worse"] else ""
            lines.append(f"{row['intent']:<34} {row['before']:>8.3f} {row['after']:>10.3f} {row['delta']:>+8.3f} "
                         f"{row['support']:>4}{mark}")
    else:
        lines += ["", "no intent's F1 changed"]
    worse = evaluation["worse_examples"]
    lines += ["", f"examples that got worse: {len(worse)}, better: {evaluation['better_examples']}"]
    for example in worse[:20]:
        lines.append(f"  - {example['text']!r}: expected {example['expected']}, "
                     f"before {example['before']}, now {example['after']}")
    cv = evaluation.get("cross_validation")
    if cv and not cv.get("error"):
        lines += ["", f"cross-validation ({cv['folds']} folds): accuracy {cv['accuracy'] or 0:.3f}, "
                      f"macro F1 {cv['macro_f1']:.3f}; weakest: "
                      + ", ".join(f"{i['intent']} {i['f1']:.2f}" for i in cv["weakest"][:5])]
    elif cv:
        lines += ["", f"cross-validation ({cv['folds']} folds) failed: see the job log"]
    gate = evaluation["gate"]
    lines += ["", "gate: PASSED" if gate["passed"] else "gate: NOT PASSED - " + "; ".join(gate["reasons"])]
    return "\n".join(lines)


def train_candidate(args: argparse.Namespace, settings: Settings) -> int:
    from servicecenter.trainer import jobs, runner

    try:
        job = jobs.create_job(settings, _actor(), epochs=args.epochs)
    except JobError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    print(f"• job {job.id}: training a candidate into {jobs.job_dir(settings, job.id)}", flush=True)
    print(f"  log: {job.log_path}", flush=True)
    job = runner.run_job(settings, job.id, evaluate_after=not args.no_eval)
    if job.status != "done":
        print(f"error: {job.error}", file=sys.stderr)
        return 1
    print(f"  trained in {jobs.elapsed(job)}, {job.epochs_done} epochs, sha256 {job.model_sha256}")
    if job.evaluation:
        print("\n" + format_comparison(job.evaluation))
    print(f"\nactivate with: assistant activate {job.id}")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from servicecenter.settings import get_trainer_settings
    from servicecenter.trainer import jobs
    from servicecenter.trainer.comparison import evaluate_candidate

    if args.job:
        job = jobs.get_job(args.job, settings.db_url)
    else:
        done = [j for j in jobs.list_jobs(settings.db_url, limit=50) if j.status == "done"]
        if not done:
            print("error: no finished training job; run 'assistant train --candidate' first", file=sys.stderr)
            return 2
        job = done[0]
    model = Path(job.model_path or "")
    if not model.is_file() or jobs.sha256_file(model) != job.model_sha256:
        print(f"error: the candidate of job {job.id} is missing or was changed", file=sys.stderr)
        return 2
    margin = args.margin if args.margin is not None else get_trainer_settings().gate_margin
    print(f"• comparing job {job.id} with {jobs.active_model(settings)} on the held-out set", flush=True)
    evaluation = evaluate_candidate(settings, model, jobs.active_model(settings), margin=margin)
    jobs.update_job(settings.db_url, job.id, evaluation=evaluation, gate_passed=bool(evaluation["gate"]["passed"]))
    print("\n" + format_comparison(evaluation))
    return 0 if evaluation["gate"]["passed"] else 3


def cmd_activate(args: argparse.Namespace, settings: Settings) -> int:
    from servicecenter.trainer import activation, jobs

    try:
        if args.rollback:
            swap = activation.rollback(settings, _actor(), rasa_url=args.rasa_url, load_server=not args.no_server)
        else:
            if not args.job:
                print("error: name the job to activate (see the console or 'assistant evaluate')", file=sys.stderr)
                return 2
            # Whoever runs this command operates the server: a reason stands for the supervisor's override.
            role = "supervisor" if args.override_reason else "trainer"
            swap = activation.activate(settings, args.job, _actor(), role, override_reason=args.override_reason,
                                 rasa_url=args.rasa_url, load_server=not args.no_server)
    except JobError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    record = swap.activation
    where = "loaded by the running Rasa server and " if swap.server_loaded else ""
    print(f"{record.kind}: model {record.model_sha256[:12]} {where}installed as {jobs.active_model(settings)}")
    if record.previous_path:
        print(f"previous model kept: {record.previous_path}")
    return 0


def register(sub: Any, settings: Callable[[], Settings]) -> None:
    """Add ``evaluate`` and ``activate`` to the ``assistant`` command."""
    p = sub.add_parser("evaluate", help="compare a trained candidate with the active model (held-out set)")
    p.add_argument("--job", help="job id (default: the latest finished job)")
    p.add_argument("--margin", type=float, help="gate margin (default: ASSISTANT_TRAINER_GATE_MARGIN)")
    p.set_defaults(func=lambda a: cmd_evaluate(a, settings()))
    p = sub.add_parser("activate", help="put a candidate from a training job live, or roll back")
    p.add_argument("job", nargs="?", help="job id")
    p.add_argument("--override-reason", help="activate although the gate did not pass (recorded)")
    p.add_argument("--rollback", action="store_true", help="go back to the model the last activation replaced")
    p.add_argument("--rasa-url", help="Rasa server (default: ASSISTANT_RASA_HOST/PORT)")
    p.add_argument("--no-server", action="store_true",
                   help="only install the file (Rasa is not running; it loads the model at its next start)")
    p.set_defaults(func=lambda a: cmd_activate(a, settings()))


def main_for_train(args: argparse.Namespace, settings: Callable[[], Settings],
                   fallback: Callable[[argparse.Namespace], int]) -> int:
    """``assistant train``: the candidate workflow with --candidate, else the old behaviour."""
    if getattr(args, "candidate", False):
        return train_candidate(args, settings())
    if getattr(args, "epochs", None) is not None or getattr(args, "no_eval", False):
        print("error: --epochs and --no-eval only work with --candidate", file=sys.stderr)
        return 2
    return fallback(args)


__all__ = ["format_comparison", "main_for_train", "register", "train_candidate"]
