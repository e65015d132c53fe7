"""Rasa's own NLU test on a seeded 80/20 split of ``bot/data`` (``rasa data split`` /
``train nlu`` / ``test nlu``), summarised from its ``intent_report.json``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

from servicecenter import PROJECT_ROOT
from servicecenter.evaluation.dataset import EvaluationError
from servicecenter.evaluation.metrics import summarize_intent_report
from servicecenter.training import separate_rasa_cache

log = logging.getLogger(__name__)

SPLIT_SEED = 42
SPLIT_TRAIN_FRACTION = 0.8
RASA = Path(sys.executable).parent / "rasa"


def _run(cmd: List[str], step: str) -> None:
    log.info("%s: %s", step, " ".join(cmd))
    # The split's own Rasa training cache: never evicts the project model's entries in .rasa/cache.
    env = dict(os.environ, **separate_rasa_cache(PROJECT_ROOT / ".rasa" / "cache-evaluation"))
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
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
