"""Load a validated knowledge base into the database and read it back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Iterator

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from servicecenter.knowledge.loader import Catalogue, KnowledgeBase
from servicecenter.knowledge.schema import Location, OpeningHours, Organisation, Service
from servicecenter.models import (
    KbLocation,
    KbOpeningHours,
    KbOrganisation,
    KbService,
    KbServiceFee,
    KbServiceSynonym,
)


@dataclass(frozen=True)
class ImportSummary:
    services: int
    organisations: int
    locations: int
    hours: int
    synonyms: int


def import_knowledge(session: Session, kb: KnowledgeBase) -> ImportSummary:
    """Replace the knowledge tables with ``kb`` in the caller's transaction (all or nothing)."""
    for table in (KbServiceFee, KbServiceSynonym, KbService, KbOrganisation, KbOpeningHours, KbLocation):
        session.execute(delete(table))
    session.flush()
    for loc in kb.locations.values():
        session.add(KbLocation(**loc.dict()))
    for hours in kb.hours.values():
        data = json.loads(hours.json())
        session.add(KbOpeningHours(**data))
    session.flush()
    for org in kb.organisations.values():
        data = json.loads(org.json())
        data["location_slug"] = data.pop("location")
        data["hours_slug"] = data.pop("hours")
        session.add(KbOrganisation(**data))
    session.flush()
    synonyms = 0
    for service in kb.services.values():
        session.add(_service_row(service))
        session.flush()
        for synonym in service.synonyms:
            session.add(KbServiceSynonym(service_slug=service.slug, synonym=synonym))
            synonyms += 1
        for position, fee in enumerate(service.fees):
            session.add(
                KbServiceFee(
                    service_slug=service.slug, position=position,
                    label=fee.label, amount_eur=fee.amount_eur, note=fee.note,
                )
            )
    session.flush()
    return ImportSummary(
        len(kb.services), len(kb.organisations), len(kb.locations), len(kb.hours), synonyms
    )


def _service_row(service: Service) -> KbService:
    document = json.loads(service.json())
    prov = service.provenance
    return KbService(
        slug=service.slug,
        name=service.name,
        teaser=service.teaser,
        text=service.text,
        responsible_slug=service.responsible,
        location_slug=service.location,
        hours_slug=service.hours,
        source_url=str(prov.source_url),
        as_of=prov.as_of,
        approved_by=prov.approved_by,
        approved_on=prov.approved_on,
        document=document,
    )


def read_knowledge(session: Session, catalogue: Catalogue) -> KnowledgeBase:
    """Read the imported knowledge base back as validated schema objects."""
    services: Dict[str, Service] = {
        row.slug: Service.parse_obj(row.document)
        for row in session.execute(select(KbService)).scalars()
    }
    organisations = {
        row.slug: Organisation(
            slug=row.slug, kind=row.kind, name=row.name, article=row.article, synonyms=row.synonyms or [],
            phone=row.phone, email=row.email, web=row.web, location=row.location_slug,
            hours=row.hours_slug, note=row.note,
        )
        for row in session.execute(select(KbOrganisation)).scalars()
    }
    locations = {
        row.slug: Location(
            slug=row.slug, name=row.name, street=row.street, postcode=row.postcode,
            city=row.city, note=row.note,
        )
        for row in session.execute(select(KbLocation)).scalars()
    }
    hours = {
        row.slug: OpeningHours(
            slug=row.slug, name=row.name, weekly=row.weekly, note=row.note,
            source=row.source, as_of=row.as_of,
        )
        for row in session.execute(select(KbOpeningHours)).scalars()
    }
    return KnowledgeBase(catalogue, services, organisations, locations, hours)


def export_records(kb: KnowledgeBase) -> Iterator[dict]:
    """One JSON-serialisable record per service, for ``assistant knowledge export``."""
    for slug in sorted(kb.services):
        service = kb.services[slug]
        org = kb.organisations.get(service.responsible)
        yield {
            "slug": service.slug,
            "title": service.name,
            "synonyms": list(service.synonyms),
            "text": f"{service.teaser} {service.text}",
            "responsible": service.responsible,
            "responsible_name": org.name if org else None,
            "fees": [json.loads(f.json()) for f in service.fees],
            "source_url": str(service.provenance.source_url),
            "approved_by": service.provenance.approved_by,
            "approved_on": service.provenance.approved_on.isoformat(),
        }
