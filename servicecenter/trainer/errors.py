"""The one error shape of the trainer workbench: German text for the console and an HTTP status."""

from __future__ import annotations


class TrainerError(Exception):
    """Nothing was changed; ``message`` is German text shown to the trainer or supervisor."""

    default_status = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code if status_code is not None else self.default_status


class JobError(TrainerError, RuntimeError):
    """A training job cannot be started, run or used."""

    default_status = 409
