"""SQLAlchemy tables of the project (Rasa's tracker store keeps its own tables)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)

from servicecenter.db import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class KbLocation(Base):
    __tablename__ = "kb_locations"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    street = Column(String(200), nullable=False)
    postcode = Column(String(10), nullable=False)
    city = Column(String(100), nullable=False)
    note = Column(Text)


class KbOpeningHours(Base):
    __tablename__ = "kb_opening_hours"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    weekly = Column(JSON, nullable=False)
    note = Column(Text)
    source = Column(String(500))
    as_of = Column(String(50))


class KbOrganisation(Base):
    __tablename__ = "kb_organisations"
    slug = Column(String(64), primary_key=True)
    kind = Column(String(16), nullable=False)
    name = Column(String(200), nullable=False)
    article = Column(String(3))
    synonyms = Column(JSON, nullable=False, default=list)
    phone = Column(String(64))
    email = Column(String(200))
    web = Column(String(500))
    location_slug = Column(String(64), ForeignKey("kb_locations.slug"))
    hours_slug = Column(String(64), ForeignKey("kb_opening_hours.slug"))
    note = Column(Text)


class KbService(Base):
    __tablename__ = "kb_services"
    slug = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    teaser = Column(Text, nullable=False)
    text = Column(Text, nullable=False)
    responsible_slug = Column(String(64), ForeignKey("kb_organisations.slug"), nullable=False)
    location_slug = Column(String(64), ForeignKey("kb_locations.slug"))
    hours_slug = Column(String(64), ForeignKey("kb_opening_hours.slug"))
    source_url = Column(String(500), nullable=False)
    as_of = Column(String(50), nullable=False)
    approved_by = Column(String(200), nullable=False)
    approved_on = Column(Date, nullable=False)
    # The whole validated entry (XZuFi modules), so answers need one row per service.
    document = Column(JSON, nullable=False)
    imported_at = Column(DateTime(timezone=True), nullable=False, default=_now)


class KbServiceSynonym(Base):
    __tablename__ = "kb_service_synonyms"
    __table_args__ = (UniqueConstraint("synonym", name="uq_kb_service_synonyms_synonym"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    service_slug = Column(String(64), ForeignKey("kb_services.slug", ondelete="CASCADE"), nullable=False)
    synonym = Column(String(200), nullable=False)


class KbServiceFee(Base):
    __tablename__ = "kb_service_fees"
    id = Column(Integer, primary_key=True, autoincrement=True)
    service_slug = Column(String(64), ForeignKey("kb_services.slug", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    label = Column(String(200), nullable=False)
    amount_eur = Column(Numeric(10, 2), nullable=False)
    note = Column(Text)


class HandoffRequest(Base):
    """A request the bot could not or should not answer itself (no message text stored)."""

    __tablename__ = "handoff_requests"
    id = Column(String(36), primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    reason = Column(String(32), nullable=False)
    service_slug = Column(String(64))
    department_slug = Column(String(64), nullable=False)
    channel = Column(String(32), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)
