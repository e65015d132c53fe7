"""Settings of the trainer workbench (environment variables with prefix ``ASSISTANT_TRAINER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, validator

from servicecenter import PROJECT_ROOT


class TrainerSettings(BaseSettings):
    # A candidate is not activated when any intent's F1 (or the service accuracy) on the
    # held-out set drops by more than this, unless a supervisor overrides with a reason.
    gate_margin: float = 0.02
    # Epochs of the DIET classifier for console-started training; empty: as in config.yml.
    epochs: Optional[int] = None
    # Messages below this confidence count as "unsure" in the inbox filter.
    low_confidence: float = 0.5
    # A training run that takes longer is stopped.
    train_timeout_minutes: int = 60
    # Cross-validation of the candidate's NLU data after the held-out comparison (folds; 0: off).
    # Each fold trains an NLU model: 3 folds add about three training runs to a job.
    cross_validation_folds: int = 3
    # Training data folder (nlu/, rules/ ...); accepted examples go to <data_dir>/nlu/curated.yml.
    # Empty: the project's bot/data.
    data_dir: Optional[Path] = None

    @property
    def training_data_dir(self) -> Path:
        return self.data_dir or PROJECT_ROOT / "bot" / "data"

    class Config:
        env_prefix = "ASSISTANT_TRAINER_"
        env_file = str(PROJECT_ROOT / ".env")

    @validator("gate_margin", "low_confidence")
    def _fraction(cls, value: float) -> float:  # noqa: N805
        if not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1")
        return value

    @validator("cross_validation_folds")
    def _folds(cls, value: int) -> int:  # noqa: N805
        if value != 0 and not 2 <= value <= 10:
            raise ValueError("must be 0 (off) or between 2 and 10")
        return value

    @validator("epochs")
    def _epochs(cls, value: Optional[int]) -> Optional[int]:  # noqa: N805
        if value is not None and not 1 <= value <= 1000:
            raise ValueError("must be between 1 and 1000")
        return value


@lru_cache(maxsize=1)
def trainer_settings() -> TrainerSettings:
    return TrainerSettings()
