"""Cross-validation of a job's training data: Rasa's ``rasa test nlu --cross-validation``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict

from servicecenter import PROJECT_ROOT
from servicecenter.settings import Settings, child_environment, get_trainer_settings
from servicecenter.trainer.jobs import RASA, job_dir
from servicecenter.trainer.models import TrainerJob
from servicecenter.training import separate_rasa_cache


def cross_validate(settings: Settings, job: TrainerJob, folds: int) -> Dict[str, Any]:
    """Rasa's NLU cross-validation of the candidate's training data (``rasa test nlu``)."""
    from servicecenter.evaluation.metrics import summarize_intent_report

    folder = job_dir(settings, job.id)
    out = folder / "cross-validation"
    cmd = [
        str(RASA), "test", "nlu",
        "--nlu", str(get_trainer_settings().training_data_dir / "nlu"),
        "--config", str(folder / "config.yml"),
        "--cross-validation", "--folds", str(folds),
        "--out", str(out), "--no-plot",
    ]
    log_path = Path(job.log_path or folder / "train.log")
    with log_path.open("a", encoding="utf-8") as log_file:
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                timeout=60 * get_trainer_settings().train_timeout_minutes * folds,
                                env=child_environment(extra={"TF_CPP_MIN_LOG_LEVEL": "2", **separate_rasa_cache()}))
    report = out / "intent_report.json"
    if result.returncode != 0 or not report.exists():
        return {"folds": folds, "error": "Die Kreuzvalidierung ist fehlgeschlagen; siehe Protokoll."}
    summary = summarize_intent_report(json.loads(report.read_text(encoding="utf-8")))
    summary["folds"] = folds
    return summary

