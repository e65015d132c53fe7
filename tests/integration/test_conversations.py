"""Rasa's own conversation tests: the dialogue model picks the right action in context."""

import subprocess
import sys
from pathlib import Path

import pytest

from servicecenter import PROJECT_ROOT

pytestmark = pytest.mark.integration


def test_rasa_conversation_tests_pass_without_prediction_errors(trained_model, tmp_path):
    rasa = Path(sys.executable).parent / "rasa"
    result = subprocess.run(
        [str(rasa), "test", "core", "--model", str(trained_model),
         "--stories", str(PROJECT_ROOT / "tests" / "conversations"),
         "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    failed = (tmp_path / "failed_test_stories.yml")
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + details
