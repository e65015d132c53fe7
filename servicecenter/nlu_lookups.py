"""Generate Rasa lookup tables and synonyms from the knowledge base.

Trainers add a synonym once, in the service's YAML entry; the NLU data follows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from servicecenter.dialogue import intent_for
from servicecenter.knowledge.loader import KnowledgeBase

HEADER = (
    "# Generated from knowledge/geldern by 'assistant knowledge lookups'. Do not edit:\n"
    "# add synonyms to the service or organisation entry instead.\n"
)


HUMAN_TEMPLATES = (
    "Verbinden Sie mich bitte mit: {}",
    "bitte weiterleiten an {}",
    "Ich möchte einen Ansprechpartner sprechen, {}",
    "durchstellen zu {} bitte",
)


def _unique(values: List[str]) -> List[str]:
    seen: Dict[str, str] = {}
    for value in values:
        seen.setdefault(value.casefold(), value)
    return list(seen.values())


def _block(kind: str, name: str, values: List[str]) -> str:
    unique: Dict[str, str] = {}
    for value in values:
        unique.setdefault(value.casefold(), value)
    lines = "\n".join(f"    - {v}" for v in sorted(unique.values(), key=str.casefold))
    return f"- {kind}: {name}\n  examples: |\n{lines}\n"


def _escape(value: str) -> str:
    return value.replace("[", "(").replace("]", ")")


def _examples(intent: str, lines: List[str]) -> str:
    body = "\n".join(f"    - {line}" for line in lines)
    return f"- intent: {intent}\n  examples: |\n{body}\n"


def render_lookups(kb: KnowledgeBase) -> str:
    parts = [HEADER, 'version: "3.1"\n', "nlu:\n"]
    # Keyword-only messages ("Reisepass") are common in chat and on the phone; they also
    # give the RegexEntityExtractor the annotated entity it needs to use the lookups.
    for slug in sorted(kb.services):
        parts.append(_examples(
            intent_for(slug),
            [f"[{_escape(s)}](service)" for s in _unique(kb.services[slug].synonyms)],
        ))
    names = [
        s
        for org in sorted(kb.organisations.values(), key=lambda o: o.slug)
        if org.slug != "polizei-notruf"
        for s in _unique(org.synonyms)
    ]
    human_lines = [
        HUMAN_TEMPLATES[i % len(HUMAN_TEMPLATES)].format(f"[{_escape(name)}](department)")
        for i, name in enumerate(names)
    ]
    if human_lines:
        parts.append(_examples("human", human_lines))
    service_values = [s for svc in kb.services.values() for s in svc.synonyms]
    parts.append(_block("lookup", "service", service_values))
    org_values = [s for org in kb.organisations.values() for s in org.synonyms]
    if org_values:
        parts.append(_block("lookup", "department", org_values))
    for slug in sorted(kb.services):
        parts.append(_block("synonym", slug, kb.services[slug].synonyms))
    for slug in sorted(kb.organisations):
        if kb.organisations[slug].synonyms:
            parts.append(_block("synonym", slug, kb.organisations[slug].synonyms))
    return "".join(parts)


def write_lookups(kb: KnowledgeBase, path: Path) -> bool:
    """Write the generated file; return True when its content changed."""
    content = render_lookups(kb)
    if path.exists() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True
