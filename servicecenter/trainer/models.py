"""Tables of the trainer workbench (migration 0007).

Every table that holds anything derived from a conversation has a ``conversation_id``
column, so the erase job finds it without knowing this module. Message texts are stored
only after redaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from servicecenter.db import Base
from servicecenter.models import UtcDateTime

MESSAGE_STATUSES = ("open", "confirmed", "corrected", "discarded")
DECISIONS = ("confirm", "correct", "discard")
CONVERSATION_TAGS = {
    "wrong_answer": "Falsche Antwort",
    "missing_knowledge": "Wissen fehlt",
    "misunderstood": "Nicht verstanden",
    "unnecessary_handoff": "Unnötige Weitergabe",
    "good": "Gut gelaufen",
}
KB_DRAFT_STATUSES = ("draft", "approved", "rejected", "superseded")
JOB_STATUSES = ("queued", "running", "evaluating", "done", "failed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class TrainerMessage(Base):
    """One citizen message from the tracker store, redacted, with what the model made of it."""

    __tablename__ = "trainer_messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(Integer, nullable=False, unique=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    sent_at = Column(UtcDateTime, nullable=False)
    channel = Column(String(32), nullable=False, default="unknown")
    text = Column(Text, nullable=False)
    redactions = Column(JSON, nullable=False, default=dict)
    group_key = Column(String(64), nullable=False)
    intent = Column(String(128))
    confidence = Column(Float, nullable=False, default=0.0)
    ranking = Column(JSON, nullable=False, default=list)
    service = Column(String(64))
    service_start = Column(Integer)
    service_end = Column(Integer)
    bot_action = Column(String(128))
    fallback = Column(Boolean, nullable=False, default=False)
    handoff = Column(Boolean, nullable=False, default=False)
    priority = Column(Float, nullable=False, default=0.0)
    status = Column(String(16), nullable=False, default="open")
    imported_at = Column(UtcDateTime, nullable=False, default=_now)

    __table_args__ = (
        Index("ix_trainer_messages_status_priority", "status", "priority"),
        # Covers the inbox's grouping and every filter column: the list never reads the texts
        # of the 100,000 rows it aggregates, only the 50 it shows.
        Index("ix_trainer_messages_inbox", "status", "group_key", "priority", "id", "confidence", "fallback",
              "handoff", "channel", "intent", "service", "sent_at", "conversation_id"),
        Index("ix_trainer_messages_group_key", "group_key"),
        Index("ix_trainer_messages_sent_at", "sent_at"),
        Index("ix_trainer_messages_intent", "intent"),
        Index("ix_trainer_messages_service", "service"),
    )


class TrainerDecision(Base):
    """What a trainer did with a message (the message's latest decision counts)."""

    __tablename__ = "trainer_decisions"
    id = Column(Integer, primary_key=True, autoincrement=True)
    message_id = Column(Integer, ForeignKey("trainer_messages.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    decision = Column(String(16), nullable=False)
    intent = Column(String(128))
    service = Column(String(64))
    service_start = Column(Integer)
    service_end = Column(Integer)
    example = Column(Text)
    decided_by = Column(String(64), nullable=False)
    decided_at = Column(UtcDateTime, nullable=False, default=_now)
    written_to = Column(String(255))
    note = Column(String(500))


class TrainerSyncState(Base):
    """How far the inbox has read the tracker store's ``events`` table."""

    __tablename__ = "trainer_sync_state"
    name = Column(String(32), primary_key=True)
    last_event_id = Column(Integer, nullable=False, default=0)
    updated_at = Column(UtcDateTime, nullable=False, default=_now)


class TrainerConversationTag(Base):
    __tablename__ = "trainer_conversation_tags"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    tag = Column(String(32), nullable=False)
    note = Column(String(500))
    tagged_by = Column(String(64), nullable=False)
    tagged_at = Column(UtcDateTime, nullable=False, default=_now)
    __table_args__ = (UniqueConstraint("conversation_id", "tag", name="uq_trainer_conversation_tag"),)


class TrainerKbDraft(Base):
    """One version of a service entry: a draft until a supervisor approves it."""

    __tablename__ = "trainer_kb_drafts"
    id = Column(Integer, primary_key=True, autoincrement=True)
    service_slug = Column(String(64), nullable=False, index=True)
    version = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False, default="draft")
    yaml_text = Column(Text, nullable=False)
    base_sha256 = Column(String(64), nullable=False)
    diff = Column(Text, nullable=False)
    note = Column(String(500))
    created_by = Column(String(64), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=_now)
    decided_by = Column(String(64))
    decided_at = Column(UtcDateTime)
    __table_args__ = (UniqueConstraint("service_slug", "version", name="uq_trainer_kb_draft_version"),)


class TrainerJob(Base):
    """One training run into a candidate directory, its evaluation and the gate's verdict."""

    __tablename__ = "trainer_jobs"
    id = Column(String(32), primary_key=True)
    status = Column(String(16), nullable=False, default="queued")
    started_by = Column(String(64), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=_now)
    started_at = Column(UtcDateTime)
    finished_at = Column(UtcDateTime)
    config_name = Column(String(64), nullable=False, default="config.yml")
    epochs_done = Column(Integer, nullable=False, default=0)
    epochs_total = Column(Integer, nullable=False, default=0)
    phase = Column(String(64))
    pid = Column(Integer)
    log_path = Column(String(500))
    model_path = Column(String(500))
    model_sha256 = Column(String(64), index=True)
    evaluation = Column(JSON)
    gate_passed = Column(Boolean)
    override_by = Column(String(64))
    override_reason = Column(String(500))
    error = Column(String(1000))


class TrainerActivation(Base):
    """Every model swap (activation or rollback), with the model it replaced."""

    __tablename__ = "trainer_activations"
    id = Column(Integer, primary_key=True, autoincrement=True)
    job_id = Column(String(32), ForeignKey("trainer_jobs.id"), nullable=True)
    kind = Column(String(16), nullable=False)
    model_sha256 = Column(String(64), nullable=False)
    model_path = Column(String(500), nullable=False)
    previous_sha256 = Column(String(64))
    previous_path = Column(String(500))
    activated_by = Column(String(64), nullable=False)
    activated_at = Column(UtcDateTime, nullable=False, default=_now)
    reason = Column(String(500))


INTENT_CHANGE_KINDS = ("add", "rename")


class TrainerIntentChange(Base):
    """Every intent a trainer added or renamed (migration 0009): who, when, what, which files."""

    __tablename__ = "trainer_intent_changes"
    id = Column(Integer, primary_key=True, autoincrement=True)
    kind = Column(String(16), nullable=False)
    intent = Column(String(64), nullable=False, index=True)
    previous_name = Column(String(64))
    reaction = Column(String(64))
    examples = Column(Integer, nullable=False, default=0)
    files = Column(String(1000), nullable=False, default="")
    changed_by = Column(String(64), nullable=False)
    changed_at = Column(UtcDateTime, nullable=False, default=_now)
