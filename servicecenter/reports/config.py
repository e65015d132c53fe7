"""The quality handbook as configuration (knowledge/<town>/quality.yml), validated at load.

Targets of the 115 service promise, the repeat-contact window, the retention period and the
tariffs of the cost reimbursement. The service spectrum of each takeover stage is
routing.yml's ``stages`` (referenced, not copied), and the reply promise for forwarded
requests is routing.yml's ``service_promise``: one value, one place.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from pydantic import BaseModel, Extra, ValidationError, conint, validator

from servicecenter.handoff.routing import RoutingConfig, load_routing
from servicecenter.knowledge.loader import KnowledgeBase, KnowledgeError, Problem
from servicecenter.settings import error_message

FILE = "quality.yml"
# The line items the report can compute a quantity for, in report order.
TARIFF_KEYS = ("contact_chat", "contact_voice", "voice_minute", "handoff", "monthly_base")
TO_BE_AGREED = "noch zu vereinbaren"


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


def _share(value: Optional[float]) -> Optional[float]:
    if value is not None and not 0.0 < value <= 1.0:
        raise ValueError("must be a share between 0 and 1 (e.g. 0.65 for 65 %), or null if not agreed")
    return value


class Targets(_Strict):
    first_contact_resolution: Optional[float]
    takeover_share: Optional[float]
    takeover_within_seconds: conint(ge=1, le=3600)  # type: ignore[valid-type]
    reply_in_time_share: Optional[float] = None
    satisfaction: Optional[float] = None

    _shares = validator(
        "first_contact_resolution", "takeover_share", "reply_in_time_share", "satisfaction", allow_reuse=True
    )(_share)


class ServiceSpectrum(_Strict):
    stages_from: str
    labels: Dict[int, str]

    @validator("stages_from")
    def _routing(cls, value: str) -> str:  # noqa: N805
        if value != "routing.yml":
            raise ValueError("the stages are defined in routing.yml: write 'routing.yml'")
        return value


class FeedbackConfig(_Strict):
    # Offer the one-key rating (DTMF 1/2) on the phone; read by the voice channel.
    voice_dtmf_rating: bool = False


class Tariff(_Strict):
    label: str
    unit: str
    # EUR per unit; None: not yet agreed (the report says so and computes no amount).
    amount: Optional[Decimal] = None

    @validator("amount")
    def _amount(cls, value: Optional[Decimal]) -> Optional[Decimal]:  # noqa: N805
        if value is not None and (value < 0 or value != value.quantize(Decimal("0.0001"))):
            raise ValueError("must be a non-negative amount in EUR with at most 4 decimals, or null")
        return value

    @property
    def agreed(self) -> bool:
        return self.amount is not None


class Reimbursement(_Strict):
    currency: str = "EUR"
    tariffs: Dict[str, Tariff]

    @validator("currency")
    def _eur(cls, value: str) -> str:  # noqa: N805
        if value != "EUR":
            raise ValueError("only EUR is supported")
        return value

    @validator("tariffs")
    def _keys(cls, value: Dict[str, Tariff]) -> Dict[str, Tariff]:  # noqa: N805
        unknown = sorted(set(value) - set(TARIFF_KEYS))
        if unknown:
            raise ValueError(f"unknown tariff(s) {', '.join(unknown)}; known: {', '.join(TARIFF_KEYS)}")
        missing = [k for k in TARIFF_KEYS if k not in value]
        if missing:
            raise ValueError(f"missing tariff(s) {', '.join(missing)} (use amount: null if not agreed)")
        return value


class QualityConfig(_Strict):
    targets: Targets
    repeat_contact_days: conint(ge=1, le=90)  # type: ignore[valid-type]
    service_spectrum: ServiceSpectrum
    retention_days: conint(ge=1, le=3650)  # type: ignore[valid-type]
    feedback: FeedbackConfig = FeedbackConfig()
    reimbursement: Reimbursement


class QualityHandbook:
    """quality.yml together with the routing values it refers to."""

    def __init__(self, config: QualityConfig, routing: RoutingConfig, kb: KnowledgeBase) -> None:
        self.config = config
        self.routing = routing
        self.kb = kb

    @property
    def targets(self) -> Targets:
        return self.config.targets

    @property
    def reply_within_service_hours(self) -> float:
        return self.routing.service_promise.reply_within_service_hours

    @property
    def repeat_contact_days(self) -> int:
        return self.config.repeat_contact_days

    @property
    def retention_days(self) -> int:
        return self.config.retention_days

    @property
    def tariffs(self) -> Dict[str, Tariff]:
        return self.config.reimbursement.tariffs

    def stage_services(self, stage: int) -> List[str]:
        """The services answered at first contact in ``stage`` (from routing.yml)."""
        return self.routing.services_in_stage(stage, self.kb)

    def stage_label(self, stage: int) -> str:
        return self.config.service_spectrum.labels.get(stage, f"Stufe {stage}")


def load_quality(directory: Path, kb: KnowledgeBase, routing: Optional[RoutingConfig] = None) -> QualityHandbook:
    """Load and check quality.yml; every problem names the file and the field."""
    path = directory / FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = QualityConfig.parse_obj(raw if raw is not None else {})
    except FileNotFoundError as err:
        raise KnowledgeError([Problem(FILE, "quality", "-", "file is missing")]) from err
    except yaml.YAMLError as err:
        raise KnowledgeError([Problem(FILE, "quality", "-", f"not valid YAML: {err}")]) from err
    except ValidationError as err:
        raise KnowledgeError([
            Problem(FILE, "quality", ".".join(str(p) for p in e["loc"]), error_message(QualityConfig, e))
            for e in err.errors()
        ]) from err
    routing = routing or load_routing(directory, kb)
    problems = [
        Problem(FILE, "quality", f"service_spectrum.labels.{stage}", "no such stage in routing.yml 'stages'")
        for stage in config.service_spectrum.labels
        if stage not in routing.stages
    ]
    problems += [
        Problem(FILE, "quality", "service_spectrum.labels", f"no label for routing.yml stage {stage}")
        for stage in routing.stages
        if stage not in config.service_spectrum.labels
    ]
    if config.retention_days <= config.repeat_contact_days:
        problems.append(Problem(FILE, "quality", "retention_days",
                                "must be longer than repeat_contact_days (repeat contacts need the history)"))
    if problems:
        raise KnowledgeError(problems)
    return QualityHandbook(config, routing, kb)
