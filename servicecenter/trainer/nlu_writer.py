"""Write accepted examples into Rasa's NLU YAML without disturbing the file.

``ruamel.yaml`` round-trips the file: comments, key order, quoting and block style stay as
they are; only the new example line is added. Before anything is written the text is
checked against every NLU file of ``bot/data/nlu``: a text already present under the same
intent is not added twice, and a text present under another intent is refused (the model
cannot learn two answers for one sentence).
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.files import atomic_write_text

NLU_DIR = PROJECT_ROOT / "bot" / "data" / "nlu"
CURATED_FILE = NLU_DIR / "curated.yml"
CURATED_HEADER = (
    'version: "3.1"\n'
    "# Examples from real conversations, accepted in the trainer workbench (redacted before\n"
    "# anyone saw them). Written by the console; comments and order are kept.\n"
    "nlu: []\n"
)
MAX_EXAMPLE_LENGTH = 500
INTENT_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
ENTITY_VALUE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Rasa's inline annotations: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_PUNCT = re.compile(r"[^\w\s\[\]-]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_write_lock = threading.Lock()
# A text that is nothing but placeholders and punctuation teaches the model nothing.
PLACEHOLDER_ONLY = re.compile(r"(?:[\W_]|\[(?:NAME|TELEFON|E-MAIL|ADRESSE|IBAN|DATUM|AKTENZEICHEN)\])*")


class ExampleRejected(ValueError):
    """The example cannot be written; ``message`` is German text for the trainer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ExampleConflict(ExampleRejected):
    def __init__(self, text: str, intent: str, other_intent: str, file: str) -> None:
        super().__init__(
            f"Dieser Satz steht schon als Beispiel für „{other_intent}“ in {file}. "
            f"Derselbe Satz darf nicht zugleich für „{intent}“ gelten."
        )
        self.text = text
        self.intent = intent
        self.other_intent = other_intent
        self.file = file


@dataclass(frozen=True)
class WriteResult:
    written: bool
    file: Path
    line: str


def plain_text(example: str) -> str:
    """The example without Rasa's entity annotations."""
    return _ANNOTATION.sub(lambda m: m.group(1), example)


def normalize(text: str) -> str:
    """Comparison key: case, punctuation and spacing do not make two sentences different."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", plain_text(text).casefold())).strip()


def _examples_of(block: object) -> List[str]:
    if not isinstance(block, str):
        return []
    lines = []
    for line in block.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            lines.append(stripped[2:].strip())
    return lines


def example_index(nlu_dir: Path) -> Dict[str, Tuple[str, str]]:
    """normalised text -> (intent, file name) over every NLU file in ``nlu_dir``."""
    index: Dict[str, Tuple[str, str]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if not isinstance(item, dict) or "intent" not in item:
                continue
            for example in _examples_of(item.get("examples")):
                index.setdefault(normalize(example), (str(item["intent"]), path.name))
    return index


def find_conflicts(nlu_dir: Path) -> List[Tuple[str, List[Tuple[str, str]]]]:
    """Texts that appear under more than one intent anywhere in ``nlu_dir`` (for a data check)."""
    seen: Dict[str, Dict[str, str]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                for example in _examples_of(item.get("examples")):
                    seen.setdefault(normalize(example), {}).setdefault(str(item["intent"]), path.name)
    return [(text, sorted(where.items())) for text, where in sorted(seen.items()) if len(where) > 1]


def clean_text(text: str) -> str:
    """One line, no YAML or annotation syntax that would change what Rasa reads."""
    text = _SPACE.sub(" ", text).strip()
    # "[NAME][TELEFON]" or "[NAME](x)" would be read as annotations: keep placeholders apart.
    text = text.replace("](", "] (").replace("]{", "] {").replace("][", "] [")
    return text


def annotate(text: str, span: Optional[Tuple[int, int]], entity: str, value: Optional[str]) -> str:
    """The example line, with the marked span as a Rasa entity annotation."""
    if span is None or value is None:
        return text
    start, end = span
    if not (0 <= start < end <= len(text)) or not text[start:end].strip():
        raise ExampleRejected("Die markierte Stelle liegt nicht im Text. Bitte markieren Sie sie neu.")
    marked = text[start:end]
    if any(ch in marked for ch in "[](){}"):
        raise ExampleRejected("Die markierte Stelle darf keinen Platzhalter und keine Klammern enthalten.")
    lead = len(marked) - len(marked.lstrip())
    trail = len(marked) - len(marked.rstrip())
    start, end = start + lead, end - trail
    marked = text[start:end]
    if marked == value:
        annotation = f"[{marked}]({entity})"
    else:
        annotation = f'[{marked}]{{"entity": "{entity}", "value": "{value}"}}'
    return text[:start] + annotation + text[end:]


def _yaml():  # type: ignore[no-untyped-def]
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=2, offset=0)
    y.width = 4096
    return y


def append_example(
    intent: str,
    text: str,
    *,
    nlu_dir: Path = NLU_DIR,
    target: Optional[Path] = None,
    span: Optional[Tuple[int, int]] = None,
    entity: str = "service",
    entity_value: Optional[str] = None,
    known_intents: Optional[Iterable[str]] = None,
) -> WriteResult:
    """Add ``text`` as an example of ``intent`` to ``target`` (default: curated.yml in ``nlu_dir``).

    Returns ``written=False`` when the same text is already an example of the same intent;
    raises :class:`ExampleConflict` when it is one of another intent.
    """
    target = target or nlu_dir / CURATED_FILE.name
    if not INTENT_RE.match(intent or ""):
        raise ExampleRejected("Bitte wählen Sie ein Anliegen (Intent) aus der Liste.")
    if known_intents is not None and intent not in set(known_intents):
        raise ExampleRejected(f"Das Anliegen „{intent}“ gibt es im Modell nicht.")
    if entity_value is not None and not ENTITY_VALUE_RE.match(entity_value):
        raise ExampleRejected("Bitte wählen Sie die Leistung aus der Liste.")
    raw = text
    text = clean_text(text)
    if span is not None and text != raw:
        # Offsets were given on the raw text; map them through the cleaning by the marked words.
        marked = raw[span[0]:span[1]].strip()
        position = text.find(marked) if marked else -1
        span = (position, position + len(marked)) if position >= 0 else span
    if not text:
        raise ExampleRejected("Ein leerer Text kann kein Beispiel werden.")
    if len(text) > MAX_EXAMPLE_LENGTH:
        raise ExampleRejected(f"Beispiele dürfen höchstens {MAX_EXAMPLE_LENGTH} Zeichen lang sein.")
    line = annotate(text, span, entity, entity_value)
    with _write_lock:
        index = example_index(nlu_dir)
        existing = index.get(normalize(text))
        if existing is not None:
            other_intent, file = existing
            if other_intent != intent:
                raise ExampleConflict(text, intent, other_intent, file)
            return WriteResult(False, Path(file), line)
        _append(target, intent, line)
    return WriteResult(True, target, line)


def _append(path: Path, intent: str, line: str) -> None:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    y = _yaml()
    source = path.read_text(encoding="utf-8") if path.exists() else CURATED_HEADER
    data = y.load(source)
    if data is None or not isinstance(data, dict):
        raise ExampleRejected(f"{path.name} ist keine gültige NLU-Datei; bitte prüfen.")
    items = data.get("nlu")
    if items is None:
        from ruamel.yaml.comments import CommentedSeq

        items = data["nlu"] = CommentedSeq()
    entry = next((i for i in items if isinstance(i, dict) and i.get("intent") == intent), None)
    new_line = f"- {line}\n"
    if entry is None:
        entry = CommentedMap()
        entry["intent"] = intent
        entry["examples"] = LiteralScalarString(new_line)
        items.append(entry)
    else:
        block = str(entry.get("examples") or "")
        if block and not block.endswith("\n"):
            block += "\n"
        entry["examples"] = LiteralScalarString(block + new_line)
    if hasattr(items, "fa"):
        items.fa.set_block_style()
    out = io.StringIO()
    y.dump(data, out)
    rendered = out.getvalue()
    # The result must still be what Rasa reads: parse it before it replaces the file.
    check = yaml.safe_load(rendered)
    if line.split("]")[0] and not any(
        isinstance(i, dict) and i.get("intent") == intent and line in _examples_of(i.get("examples"))
        for i in check.get("nlu") or []
    ):
        raise ExampleRejected("Das Beispiel konnte nicht sicher in die Datei geschrieben werden.")
    atomic_write_text(path, rendered)
