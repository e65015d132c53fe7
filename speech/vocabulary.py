"""The domain's vocabulary for an optional recogniser grammar.

Built from the knowledge base (service names and synonyms, departments) and the Rasa
training examples, plus the words every call needs (numbers, yes/no, "Mitarbeiter").
Restricting Vosk to it raises accuracy on the town's topics; anything else becomes
``[unk]`` and leads to a polite "please say that again" rather than a wrong answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, Set

import yaml

_ENTITY_RE = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_WORD_RE = re.compile(r"[a-zäöüß]+")  # hyphenated compounds: their parts

# Words a caller needs whatever the topic (answers to the bot's questions, digits).
CORE_WORDS = (
    "ja nein doch genau richtig falsch danke bitte tschüss auf wiederhören hallo guten tag morgen "
    "mitarbeiter mitarbeiterin mensch person verbinden sie mich mit einem einer "
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig dreißig hundert "
    "noch einmal wiederholen nicht verstanden ich habe eine frage"
)


def words(text: str) -> Set[str]:
    """Lower-case words of a German text (entity annotations removed)."""
    text = _ENTITY_RE.sub(r"\1", text).lower()
    return set(_WORD_RE.findall(text))


def _training_examples(nlu_dir: Path) -> Iterable[str]:
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu", []) or []:
            examples = item.get("examples") if isinstance(item, dict) else None
            if isinstance(examples, str):
                for line in examples.splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        yield line[2:]


def domain_vocabulary(knowledge_dir: Path, nlu_dir: Path) -> List[str]:
    """Sorted distinct words of the knowledge base, the training data and CORE_WORDS."""
    from servicecenter.knowledge.loader import load_knowledge

    kb = load_knowledge(knowledge_dir)
    vocab: Set[str] = words(CORE_WORDS)
    for service in kb.services.values():
        for text in [service.name, *service.synonyms]:
            vocab |= words(text)
    for org in kb.organisations.values():
        vocab |= words(org.name)
    for example in _training_examples(nlu_dir):
        vocab |= words(example)
    return sorted(vocab)
