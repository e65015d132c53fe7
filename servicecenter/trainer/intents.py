"""Add and rename intents in the bot's training data and domain, from the console.

Adding an intent writes its examples to ``bot/data/nlu/curated.yml`` (redacted and checked
for conflicts like every accepted example), the name to the domain's intent list
(``bot/domain/intents.yml``) and, if the trainer chose a reaction, the intent into the
matching rule of ``bot/data/rules`` (RulePolicy only acts on intents that have a rule; an
intent without one gets the fallback answer). Renaming replaces the name everywhere it
appears in the NLU data, the rules and the domain. Every file is rewritten with
``ruamel.yaml`` in its own indentation, so comments and layout stay; a file that would not
survive the round trip unchanged is not touched. All files of one change are written
together: if one write fails, the others are restored.

Names used by the program code (service intents ``svc_*``, which are derived from the
catalogue slugs, and any name that appears as a string in ``bot/`` or ``servicecenter/``)
are never renamed here: the assistant would silently behave differently.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import select

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.dialogue import SERVICE_INTENT_PREFIX
from servicecenter.files import atomic_write_text
from servicecenter.trainer import nlu_writer
from servicecenter.trainer.errors import TrainerError
from servicecenter.trainer.models import TrainerIntentChange

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
NAME_MIN, NAME_MAX = 3, 64
MIN_EXAMPLES = 3
MAX_EXAMPLES = 100
# Rasa's own intents and the catalogue's service prefix.
RESERVED = {"nlu_fallback", "restart", "back", "out_of_scope", "session_start", "default"}
# What the assistant does when it recognises a new intent: the rule (by its action) it joins.
REACTIONS: Dict[str, Tuple[str, str]] = {
    "": ("", "Noch keine (der Assistent bittet um eine andere Formulierung)"),
    "answer": ("action_answer_service", "Antwort zur genannten Leistung aus der Wissensdatenbank "
                                        "(sonst Rückfrage, welche Leistung gemeint ist)"),
    "handoff": ("action_handoff", "Weitergabe an eine Mitarbeiterin oder einen Mitarbeiter"),
    "out_of_scope": ("action_out_of_scope", "Höflicher Hinweis: dafür ist die Stadt nicht zuständig"),
}
_lock = threading.Lock()
# Indentation styles of the project's YAML files (NLU/rules, domain): the one that
# reproduces a file byte for byte is used to write it.
_STYLES = ((2, 2, 0), (2, 4, 2))


class IntentError(TrainerError, ValueError):
    """An intent was not added or renamed."""


@dataclasses.dataclass(frozen=True)
class BotFiles:
    """Where the training data, the domain and the program code live."""

    nlu_dir: Path
    rules_dir: Path
    domain_dir: Path
    code_dirs: Tuple[Path, ...]

    @property
    def intents_file(self) -> Path:
        return self.domain_dir / "intents.yml"

    def yaml_files(self) -> List[Path]:
        return [p for folder in (self.nlu_dir, self.rules_dir, self.domain_dir) for p in sorted(folder.glob("*.yml"))]

    def relative(self, path: Path) -> str:
        for base in (self.nlu_dir.parent.parent, self.domain_dir.parent.parent):
            try:
                return str(path.relative_to(base))
            except ValueError:
                continue
        return path.name

    @classmethod
    def under(cls, bot_dir: Path, code_dirs: Optional[Sequence[Path]] = None) -> "BotFiles":
        """The layout of a ``bot/`` folder (the project's or a copy of it)."""
        return cls(bot_dir / "data" / "nlu", bot_dir / "data" / "rules", bot_dir / "domain",
                   tuple(code_dirs) if code_dirs is not None else (bot_dir, PROJECT_ROOT / "servicecenter"))


def bot_files() -> BotFiles:
    """The files the console changes: ASSISTANT_TRAINER_DATA_DIR if set, else bot/data."""
    from servicecenter.settings import get_trainer_settings

    configured = get_trainer_settings().data_dir
    nlu = configured / "nlu" if configured else nlu_writer.NLU_DIR
    rules = configured / "rules" if configured else PROJECT_ROOT / "bot" / "data" / "rules"
    return BotFiles(nlu, rules, PROJECT_ROOT / "bot" / "domain",
                    (PROJECT_ROOT / "bot", PROJECT_ROOT / "servicecenter"))


# --------------------------------------------------------------------------- reading


def domain_intents(files: BotFiles) -> List[str]:
    names: List[str] = []
    for path in sorted(files.domain_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("intents") or []:
            name = next(iter(item)) if isinstance(item, dict) else str(item)
            if name not in names:
                names.append(name)
    return names


def example_counts(files: BotFiles) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for path in sorted(files.nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                name = str(item["intent"])
                counts[name] = counts.get(name, 0) + len(nlu_writer._examples_of(item.get("examples")))
    return counts


def code_sources(files: BotFiles) -> List[Tuple[str, str]]:
    """(relative path, text) of every Python file in the code folders."""
    sources = []
    for folder in files.code_dirs:
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            try:
                sources.append((str(path.relative_to(folder.parent)), text))
            except ValueError:
                sources.append((path.name, text))
    return sources


def code_references(name: str, files: BotFiles, sources: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """Python files (relative paths) that use ``name`` as a string ("name", 'name', "/name")."""
    pattern = re.compile(r"""(["'])/?""" + re.escape(name) + r"""(?:\1|[{\s])""")
    return [rel for rel, text in (sources if sources is not None else code_sources(files)) if pattern.search(text)]


@dataclasses.dataclass(frozen=True)
class IntentInfo:
    name: str
    examples: int
    renamable: bool
    why_not: Optional[str]


def overview(files: BotFiles) -> List[IntentInfo]:
    counts = example_counts(files)
    sources = code_sources(files)
    rows = []
    for name in domain_intents(files):
        why = rename_blocker(name, files, sources)
        rows.append(IntentInfo(name, counts.get(name, 0), why is None, why))
    return rows


def rename_blocker(name: str, files: BotFiles, sources: Optional[List[Tuple[str, str]]] = None) -> Optional[str]:
    """Why ``name`` cannot be renamed in the console (German), or None."""
    if name.startswith(SERVICE_INTENT_PREFIX):
        return ("Leistungs-Anliegen heißen wie die Leistung im Katalog (svc_ + Kürzel); sie werden "
                "mit der Leistung umbenannt, nicht hier.")
    if name in RESERVED:
        return "Dieses Anliegen gehört zu Rasa selbst und behält seinen Namen."
    used = code_references(name, files, sources)
    if used:
        return ("Das Programm prüft auf diesen Namen (" + ", ".join(used[:3]) + "); eine Umbenennung "
                "hier würde das Verhalten des Assistenten ändern. Bitte bei der Entwicklung umbenennen lassen.")
    return None


def _check_new_name(name: str, files: BotFiles) -> str:
    name = (name or "").strip()
    if not (NAME_MIN <= len(name) <= NAME_MAX) or not NAME_RE.match(name):
        raise IntentError(
            "Der Name muss aus Kleinbuchstaben, Ziffern und einzelnen Unterstrichen bestehen, mit einem "
            f"Buchstaben beginnen und {NAME_MIN} bis {NAME_MAX} Zeichen lang sein (z. B. frage_parken)."
        )
    if name.startswith(SERVICE_INTENT_PREFIX):
        raise IntentError("Namen mit „svc_“ sind den Leistungen des Katalogs vorbehalten.")
    if name in RESERVED:
        raise IntentError(f"„{name}“ ist ein Name, den Rasa selbst verwendet.")
    if name in domain_intents(files) or name in example_counts(files):
        raise IntentError(f"Das Anliegen „{name}“ gibt es schon.", 409)
    return name


# --------------------------------------------------------------------------- writing


def _yaml(style: Tuple[int, int, int]):  # type: ignore[no-untyped-def]
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=style[0], sequence=style[1], offset=style[2])
    y.width = 4096
    return y


def _dump(y: Any, data: Any) -> str:
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _load(path: Path) -> Tuple[Any, Any]:
    """(ruamel YAML instance, data) in the style that writes ``path`` back unchanged."""
    text = path.read_text(encoding="utf-8")
    for style in _STYLES:
        y = _yaml(style)
        data = y.load(text)
        if _dump(y, data) == text:
            return y, data
    raise IntentError(f"Die Datei {path.name} lässt sich nicht ohne Formatverlust ändern; bitte von Hand anpassen.",
                      500)


class _Transaction:
    """Remember files before they change; put them all back if anything fails."""

    def __init__(self) -> None:
        self.saved: Dict[Path, Optional[bytes]] = {}

    def keep(self, path: Path) -> None:
        if path not in self.saved:
            self.saved[path] = path.read_bytes() if path.exists() else None

    def write(self, path: Path, text: str) -> None:
        self.keep(path)
        # Rasa must still read it: parse before it replaces the file.
        yaml.safe_load(text)
        atomic_write_text(path, text)

    def rollback(self) -> None:
        for path, content in self.saved.items():
            if content is None:
                if path.exists():
                    path.unlink()
            else:
                path.write_bytes(content)


def _log(url: Optional[str], **values: Any) -> TrainerIntentChange:
    with session_scope(url) as session:
        record = TrainerIntentChange(**values)
        session.add(record)
        session.flush()
        session.expunge(record)
    return record


@dataclasses.dataclass(frozen=True)
class AddResult:
    intent: str
    examples: List[str]
    redacted: int
    files: List[str]


def parse_examples(raw: str) -> List[str]:
    """One example per line; list markers and blank lines dropped, duplicates removed."""
    seen = set()
    out = []
    for line in (raw or "").replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        if not line:
            continue
        key = nlu_writer.normalize(line)
        if key and key not in seen:
            seen.add(key)
            out.append(line)
    return out


def _prepared_examples(raw: str, name: str, files: BotFiles, redactor: Any) -> Tuple[List[str], int]:
    texts = parse_examples(raw)
    if len(texts) < MIN_EXAMPLES:
        raise IntentError(f"Bitte geben Sie mindestens {MIN_EXAMPLES} verschiedene Beispielsätze an "
                          "(einen pro Zeile).")
    if len(texts) > MAX_EXAMPLES:
        raise IntentError(f"Bitte höchstens {MAX_EXAMPLES} Beispielsätze auf einmal.")
    if redactor is None:
        from servicecenter.trainer.redaction import default_redactor

        redactor = default_redactor()
    index = nlu_writer.example_index(files.nlu_dir)
    lines, redacted, seen = [], 0, set()
    for text in texts:
        cleaned = redactor.redact(text).text
        if cleaned != text:
            redacted += 1
        line = nlu_writer.clean_text(cleaned)
        if len(line) > nlu_writer.MAX_EXAMPLE_LENGTH:
            raise IntentError(f"Beispiele dürfen höchstens {nlu_writer.MAX_EXAMPLE_LENGTH} Zeichen lang sein.")
        if nlu_writer.PLACEHOLDER_ONLY.fullmatch(line):
            raise IntentError(f"Ein Beispiel besteht nach dem Entfernen persönlicher Daten nur aus Platzhaltern: "
                              f"„{line}“.")
        key = nlu_writer.normalize(line)
        if key in seen:
            continue
        seen.add(key)
        existing = index.get(key)
        if existing is not None:
            raise IntentError(f"„{line}“ steht schon als Beispiel für „{existing[0]}“ in {existing[1]}. "
                              f"Derselbe Satz darf nicht zugleich für „{name}“ gelten.", 409)
        lines.append(line)
    if len(lines) < MIN_EXAMPLES:
        raise IntentError(f"Nach dem Entfernen persönlicher Daten bleiben weniger als {MIN_EXAMPLES} "
                          "verschiedene Beispielsätze.")
    return lines, redacted


def _add_to_domain(tx: _Transaction, files: BotFiles, name: str) -> None:
    path = files.intents_file
    y, data = _load(path)
    intents = data.get("intents")
    if intents is None:
        raise IntentError(f"{path.name} hat keine Liste „intents“; bitte prüfen.", 500)
    intents.append(name)
    tx.write(path, _dump(y, data))


def _rule_for(files: BotFiles, action: str) -> Tuple[Path, Any, Any, Any]:
    """(file, yaml, data, rule) of the first rule that ends with ``action``."""
    for path in sorted(files.rules_dir.glob("*.yml")):
        y, data = _load(path)
        for rule in data.get("rules") or []:
            steps = rule.get("steps") or []
            if steps and steps[-1].get("action") == action and len(steps) == 2:
                return path, y, data, rule
    raise IntentError("Für diese Reaktion gibt es keine passende Regel; bitte ohne Reaktion anlegen.", 409)


def _add_to_rule(tx: _Transaction, files: BotFiles, name: str, action: str) -> Path:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path, y, data, rule = _rule_for(files, action)
    first = rule["steps"][0]
    entry = CommentedMap()
    entry["intent"] = name
    if "or" in first:
        first["or"].append(entry)
    elif "intent" in first:
        old = CommentedMap()
        old["intent"] = first["intent"]
        first["or"] = CommentedSeq([old, entry])
        del first["intent"]
    else:
        raise IntentError("Die Regel für diese Reaktion hat eine unerwartete Form; bitte ohne Reaktion anlegen.", 409)
    tx.write(path, _dump(y, data))
    return path


def _write_examples(tx: _Transaction, files: BotFiles, name: str, lines: Sequence[str]) -> Path:
    target = files.nlu_dir / nlu_writer.CURATED_FILE.name
    tx.keep(target)
    for line in lines:
        nlu_writer._append(target, name, line)
    return target


def add_intent(name: str, examples: str, actor: str, reaction: str = "", *, files: Optional[BotFiles] = None,
               url: Optional[str] = None, redactor: Any = None) -> AddResult:
    """Create intent ``name`` with its examples; logged with who and when."""
    files = files or bot_files()
    if reaction not in REACTIONS:
        raise IntentError("Bitte wählen Sie eine Reaktion aus der Liste.")
    with _lock, nlu_writer._write_lock:
        name = _check_new_name(name, files)
        lines, redacted = _prepared_examples(examples, name, files, redactor)
        tx = _Transaction()
        try:
            written = [_write_examples(tx, files, name, lines)]
            _add_to_domain(tx, files, name)
            written.append(files.intents_file)
            if reaction:
                written.append(_add_to_rule(tx, files, name, REACTIONS[reaction][0]))
        except BaseException:
            tx.rollback()
            raise
        names = [files.relative(p) for p in written]
        _log(url, kind="add", intent=name, reaction=reaction or None, examples=len(lines),
             files=", ".join(names)[:1000], changed_by=actor)
    log.info("trainer: intent %s added by %s (%d examples)", name, actor, len(lines))
    return AddResult(name, lines, redacted, names)


def _rename_in(node: Any, old: str, new: str, in_intent_list: bool = False) -> int:
    """Replace ``old`` by ``new`` where it names an intent; the number of replacements."""
    from ruamel.yaml.comments import CommentedMap

    count = 0
    if isinstance(node, dict):
        for key in list(node.keys()):
            value = node[key]
            if key in ("intent", "not_intent") and value == old:
                node[key] = new
                count += 1
            elif key in ("intent", "not_intent") and isinstance(value, list):
                for i, item in enumerate(value):
                    if item == old:
                        value[i] = new
                        count += 1
            elif key == "payload" and isinstance(value, str) and re.fullmatch(
                    r"/" + re.escape(old) + r"(\{.*\})?", value, re.S):
                node[key] = "/" + new + value[len(old) + 1:]
                count += 1
            elif key == "intents" and isinstance(value, list):
                count += _rename_in(value, old, new, in_intent_list=True)
            else:
                count += _rename_in(value, old, new)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if in_intent_list and item == old:
                node[i] = new
                count += 1
            elif in_intent_list and isinstance(item, CommentedMap) and old in item:
                position = list(item.keys()).index(old)
                item.insert(position, new, item.pop(old))
                count += 1
            else:
                count += _rename_in(item, old, new)
    return count


@dataclasses.dataclass(frozen=True)
class RenameResult:
    old: str
    new: str
    files: List[str]
    replacements: int


def rename_intent(old: str, new: str, actor: str, *, files: Optional[BotFiles] = None,
                  url: Optional[str] = None) -> RenameResult:
    """Rename an intent in every NLU, rule and domain file; refused for names the code uses."""
    files = files or bot_files()
    old = (old or "").strip()
    with _lock, nlu_writer._write_lock:
        if old not in domain_intents(files):
            raise IntentError("Bitte wählen Sie ein vorhandenes Anliegen aus der Liste.", 404)
        blocker = rename_blocker(old, files)
        if blocker:
            raise IntentError(f"„{old}“ kann nicht umbenannt werden: {blocker}", 409)
        new = _check_new_name(new, files)
        changes: List[Tuple[Path, str, int]] = []
        for path in files.yaml_files():
            if old not in path.read_text(encoding="utf-8"):
                continue
            y, data = _load(path)
            count = _rename_in(data, old, new)
            if count:
                changes.append((path, _dump(y, data), count))
        tx = _Transaction()
        try:
            for path, text, _ in changes:
                tx.write(path, text)
        except BaseException:
            tx.rollback()
            raise
        names = [files.relative(path) for path, _, _ in changes]
        total = sum(count for _, _, count in changes)
        _log(url, kind="rename", intent=new, previous_name=old, examples=0, files=", ".join(names)[:1000],
             changed_by=actor)
    log.info("trainer: intent %s renamed to %s by %s (%d places)", old, new, actor, total)
    return RenameResult(old, new, names, total)


def history(url: Optional[str] = None, limit: int = 50) -> List[TrainerIntentChange]:
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerIntentChange).order_by(TrainerIntentChange.changed_at.desc(), TrainerIntentChange.id.desc())
            .limit(limit)
        ).scalars())


__all__ = ["BotFiles", "IntentError", "REACTIONS", "add_intent", "bot_files", "history", "overview",
           "parse_examples", "rename_blocker", "rename_intent"]
