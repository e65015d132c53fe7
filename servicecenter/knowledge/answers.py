"""Compose a citizen's answer from a service entry, for chat or for voice.

Chat gets Markdown (bold, lists, links) and the source link; voice gets short sentences
without URLs, with amounts and times written out for speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from servicecenter.knowledge import aspects as A
from servicecenter.knowledge import spoken
from servicecenter.knowledge.loader import KnowledgeBase
from servicecenter.knowledge.schema import WEEKDAYS, Fee, OpeningHours, Organisation, Service
from servicecenter.text import WEEKDAY_ABBREVIATIONS, format_euro, weekday_adverb

CHAT = "chat"
VOICE = "voice"

# Schema day key -> ("Mo", "montags"): the chat's abbreviation and the spoken form.
_DAY_NAMES = {key: (WEEKDAY_ABBREVIATIONS[i], weekday_adverb(i)) for i, key in enumerate(WEEKDAYS)}
_ORDER = list(_DAY_NAMES)

HUMAN_HINT_CHAT = "Sie möchten lieber mit einem Menschen sprechen? Schreiben Sie einfach „Mitarbeiter“."
HUMAN_HINT_VOICE = "Wenn Sie mit einer Mitarbeiterin oder einem Mitarbeiter sprechen möchten, sagen Sie einfach: Mitarbeiter."


def channel_kind(input_channel: Optional[str]) -> str:
    """Rasa's input channel name -> how to render (only the voice channel is spoken)."""
    return VOICE if input_channel == "voice" else CHAT


def format_eur(amount: float) -> str:
    return "gebührenfrei" if amount == 0 else format_euro(amount)


@dataclass(frozen=True)
class Answer:
    text: str
    service: str
    aspect: str
    source_url: str


class AnswerComposer:
    """Turns a knowledge entry and an aspect into the reply text for one channel."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    # ------------------------------------------------------------------ public
    def answer(self, slug: str, aspect: str, channel: str = CHAT) -> Answer:
        service = self.kb.services[slug]
        org = self.kb.organisations[service.responsible]
        body = self._body(service, org, aspect)
        if channel == VOICE:
            text = self._voice(service, org, body)
        else:
            text = self._chat(service, org, aspect, body)
        return Answer(text, slug, aspect, str(service.provenance.source_url))

    def hours_text(self, hours: OpeningHours, channel: str = CHAT) -> str:
        by_pattern: List[tuple] = []
        for day in _ORDER:
            intervals = hours.weekly.get(day)
            if not intervals:
                continue
            if by_pattern and by_pattern[-1][1] == intervals and _ORDER.index(by_pattern[-1][0][-1]) == _ORDER.index(day) - 1:
                by_pattern[-1][0].append(day)
            else:
                by_pattern.append(([day], intervals))
        parts = []
        for days, intervals in by_pattern:
            if channel == VOICE:
                joiner = " und " if len(days) == 2 else " bis "
                label = _DAY_NAMES[days[0]][1] if len(days) == 1 else f"{_DAY_NAMES[days[0]][1]}{joiner}{_DAY_NAMES[days[-1]][1]}"
                times = " und ".join(spoken.time_range(*i.split("-")) for i in intervals)
            else:
                label = _DAY_NAMES[days[0]][0] if len(days) == 1 else f"{_DAY_NAMES[days[0]][0]}–{_DAY_NAMES[days[-1]][0]}"
                times = ", ".join(i.replace("-", "–") + " Uhr" for i in intervals)
            parts.append(f"{label} {times}")
        return "; ".join(parts)

    def contact_line(self, org: Organisation, channel: str = CHAT) -> str:
        bits = [org.name]
        if org.phone:
            bits.append(f"Telefon {spoken.phone(org.phone) if channel == VOICE else org.phone}")
        if org.email and channel != VOICE:
            bits.append(f"E-Mail {org.email}")
        if org.web and channel != VOICE:
            bits.append(f"[{_host(str(org.web))}]({org.web})")
        return ", ".join(bits)

    # ----------------------------------------------------------------- content
    def _body(self, service: Service, org: Organisation, aspect: str) -> dict:
        """Aspect content as neutral pieces: a lead sentence and optional list items."""
        who = _nominative(org)
        if aspect == A.FEE:
            items = [f"{f.label}: {format_eur(f.amount_eur)}" + (f" ({f.note})" if f.note else "") for f in service.fees]
            lead = "Die Gebühren:" if items else (service.fee_note or f"Die genaue Gebühr nennt Ihnen {who}.")
            tail = service.fee_note if items and service.fee_note else None
            return {"lead": lead, "items": items, "tail": tail, "fees": service.fees}
        if aspect == A.DOCUMENTS:
            if service.documents:
                return {"lead": "Bitte bringen Sie mit:", "items": service.documents}
            return {"lead": f"Welche Unterlagen Sie brauchen, sagt Ihnen {who}."}
        if aspect == A.DURATION:
            return {"lead": service.processing_time or f"Wie lange es dauert, sagt Ihnen {who}."}
        if aspect == A.DEADLINE:
            return {"lead": service.deadlines or f"Eine feste Frist ist mir dafür nicht bekannt; verbindlich Auskunft gibt {_nominative(org)}."}
        if aspect == A.ONLINE:
            if service.online_service:
                return {"lead": "Das geht auch online:", "link": service.online_service}
            said = _sentences_about(service, r"online|internet|digital|e-mail|per post|app\b")
            if said:
                return {"lead": " ".join(said[:2])}
            return {"lead": f"Einen Online-Antrag dafür kenne ich nicht. Ob es ohne Besuch geht, sagt Ihnen {who}."}
        if aspect == A.LOCATION:
            return {"lead": self._where(service, org)}
        if aspect == A.HOURS:
            return {"lead": self._hours_sentence(service, org, CHAT), "hours": True}
        return {"lead": service.teaser, "general": True}

    def _where(self, service: Service, org: Organisation) -> str:
        loc_slug = service.location or org.location
        if loc_slug and loc_slug in self.kb.locations:
            loc = self.kb.locations[loc_slug]
            return f"Zuständig ist {_nominative(org)}: {loc.name}, {loc.address}."
        return f"Zuständig ist {_nominative(org)}."

    def _hours_for(self, service: Service, org: Organisation) -> Optional[OpeningHours]:
        slug = service.hours or org.hours
        return self.kb.hours.get(slug) if slug else None

    def _hours_sentence(self, service: Service, org: Organisation, channel: str) -> str:
        hours = self._hours_for(service, org)
        if hours is None:
            return f"Die Öffnungszeiten nennt Ihnen {_nominative(org)}."
        text = f"{hours.name}: {self.hours_text(hours, channel)}."
        if hours.note:
            text += " " + (spoken.for_speech(hours.note) if channel == VOICE else hours.note)
        return text

    # --------------------------------------------------------------- channels
    def _chat(self, service: Service, org: Organisation, aspect: str, body: dict) -> str:
        lines = [f"**{service.name}**"]
        lines.append(body["lead"])
        for item in body.get("items", []):
            lines.append(f"- {item}")
        if body.get("tail"):
            lines.append(body["tail"])
        if body.get("link"):
            link = body["link"]
            lines.append(f"[{link.label}]({link.url})")
        if body.get("general"):
            extra = _external_note(org)
            if extra:
                lines.append(extra)
            lines.append("Fragen Sie gern nach Kosten, Unterlagen, Dauer, Ort, Öffnungszeiten oder Online-Antrag.")
        if aspect in (A.LOCATION, A.HOURS) or org.kind == "external" or body.get("general"):
            lines.append(f"Kontakt: {self.contact_line(org)}")
        if service.contact_note and aspect in (A.GENERAL, A.LOCATION, A.ONLINE):
            lines.append(service.contact_note)
        lines.append(f"Quelle: [{_host(str(service.provenance.source_url))}]({service.provenance.source_url}) (Stand {service.provenance.as_of})")
        lines.append(HUMAN_HINT_CHAT)
        return "\n".join(lines)

    def _voice(self, service: Service, org: Organisation, body: dict) -> str:
        sentences: List[str] = []
        if body.get("fees"):
            fees: List[Fee] = body["fees"][:3]
            sentences.append(f"{service.name}. " + " ".join(
                f"{spoken.for_speech(f.label[:1].upper() + f.label[1:])}: {spoken.euro(f.amount_eur)}."
                for f in fees
            ))
            if body.get("tail"):
                sentences.append(spoken.for_speech(body["tail"]))
        elif body.get("hours"):
            sentences.append(self._hours_sentence(service, org, VOICE))
        else:
            sentences.append(spoken.for_speech(_first_sentences(body["lead"], 2)))
            items = body.get("items", [])[:4]
            if items:
                sentences.append(spoken.for_speech(", ".join(items)) + ".")
            if body.get("link"):
                sentences.append("Den Link finden Sie auf der Internetseite der Stadt Geldern.")
        if org.kind == "external" and org.phone and body.get("general"):
            sentences.append(f"Telefon {spoken.phone(org.phone)}.")
        sentences.append(HUMAN_HINT_VOICE)
        return " ".join(s.strip() for s in sentences if s.strip())


def _sentences_about(service: Service, pattern: str) -> List[str]:
    """Sentences of the entry's texts that speak about ``pattern`` (e.g. online ways)."""
    import re

    found = []
    for part in [service.teaser, service.text, *service.procedure]:
        for sentence in re.split(r"(?<=[.!?])\s+", part):
            if re.search(pattern, sentence, re.IGNORECASE) and sentence not in found:
                found.append(sentence.strip())
    return found


def _first_sentences(text: str, n: int) -> str:
    import re

    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:n])


def _host(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0]
    return host[4:] if host.startswith("www.") else host


def _nominative(org: Organisation) -> str:
    """'das Bürgerbüro der Stadt Geldern', 'der Kreis Kleve' (article from the entry)."""
    return f"{org.article} {org.name}" if org.article else org.name


def _external_note(org: Organisation) -> Optional[str]:
    if org.kind == "external":
        return f"Hinweis: Dafür ist nicht die Stadt Geldern zuständig, sondern {org.name}."
    return None
