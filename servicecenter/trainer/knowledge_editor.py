"""Edit service entries of the knowledge base: drafts, supervisor approval, versions, write-back.

A trainer's change becomes a draft: the whole proposed YAML file, validated exactly like
``assistant knowledge import`` (the folder is loaded with the changed file in a scratch
copy), with a unified diff against the file it was based on. A supervisor approves it:
the provenance fields ``approved_by``/``approved_on`` are set, the YAML file is rewritten
with ``ruamel.yaml`` (comments and layout kept), the knowledge base is re-imported into the
database (the running actions notice the new import within seconds, see
``KnowledgeRepository``) and the lookup tables for the next training are regenerated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import io
import logging
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import func, select, update

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.files import atomic_write_text
from servicecenter.knowledge.loader import KnowledgeBase, KnowledgeError, load_knowledge
from servicecenter.knowledge.schema import SLUG_RE
from servicecenter.settings import Settings, get_trainer_settings
from servicecenter.trainer.errors import TrainerError
from servicecenter.trainer.models import TrainerKbDraft

log = logging.getLogger(__name__)

# Fields a trainer edits in the console, with their German labels. Fees, responsibility,
# location and opening hours are facts with their own sources and stay in the YAML files.
TEXT_FIELDS: Dict[str, str] = {
    "name": "Bezeichnung",
    "teaser": "Kurzantwort",
    "text": "Beschreibung",
    "processing_time": "Bearbeitungsdauer",
    "deadlines": "Fristen",
    "fee_note": "Hinweis zu Gebühren",
    "contact_note": "Hinweis zum Kontakt",
}
LIST_FIELDS: Dict[str, str] = {
    "synonyms": "Synonyme (eins pro Zeile)",
    "documents": "Unterlagen (eine pro Zeile)",
    "prerequisites": "Voraussetzungen (eine pro Zeile)",
    "procedure": "Ablauf (ein Schritt pro Zeile)",
    "legal_basis": "Rechtsgrundlagen (eine pro Zeile)",
}
PROVENANCE_TEXT = {"source_url": "Quelle (Hauptquelle, URL)", "as_of": "Stand (z. B. 2024-01)"}
PROVENANCE_LIST = {"sources": "Alle Quellen (eine URL pro Zeile)"}
REQUIRED_TEXT = {"name", "teaser", "text"}
MAX_FIELD = 5000
FOLD_WIDTH = 92
_approve_lock = threading.Lock()


class EditorError(TrainerError, ValueError):
    """A draft was not stored or decided; ``problems`` lists validation findings."""

    def __init__(self, message: str, problems: Optional[List[str]] = None, status_code: Optional[int] = None) -> None:
        super().__init__(message, status_code)
        self.problems = problems or []


def _yaml():  # type: ignore[no-untyped-def]
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    # No re-wrapping: unchanged text keeps its line breaks, new folded text gets them from _fold.
    y.width = 4096
    y.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return y


def _fold(text: str, width: int = FOLD_WIDTH) -> Any:
    """A folded (``>-``) scalar broken into lines of at most ``width`` characters at spaces."""
    from ruamel.yaml.scalarstring import FoldedScalarString

    folded = FoldedScalarString(text)
    positions = []
    line_start = 0
    last_space = -1
    for index, char in enumerate(text):
        if char == " ":
            if index - line_start > width and last_space > line_start:
                positions.append(last_space)
                line_start = last_space + 1
            last_space = index
    if len(text) - line_start > width and last_space > line_start:
        positions.append(last_space)
    folded.fold_pos = positions  # type: ignore[attr-defined]
    return folded


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def service_path(settings: Settings, slug: str) -> Path:
    """The service's YAML file; unknown or malformed slugs are an error (never a path outside)."""
    if not SLUG_RE.match(slug or "") or len(slug) > 64:
        raise EditorError("Diese Leistung gibt es nicht.", status_code=404)
    path = settings.knowledge_dir / "services" / f"{slug}.yml"
    if not path.is_file():
        raise EditorError("Diese Leistung gibt es nicht.", status_code=404)
    return path


def list_services(settings: Settings) -> List[Tuple[str, str]]:
    """(slug, name) of every service file, by name."""
    import yaml

    result = []
    for path in sorted((settings.knowledge_dir / "services").glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except Exception:  # noqa: BLE001 - a broken file is listed by slug only
            data = {}
        result.append((path.stem, str(data.get("name") or path.stem)))
    return sorted(result, key=lambda x: x[1].casefold())


def current_values(settings: Settings, slug: str) -> Dict[str, Any]:
    """The editable fields of the current file, as the form shows them (lists as lines)."""
    import yaml

    data = yaml.safe_load(service_path(settings, slug).read_text(encoding="utf-8")) or {}
    values: Dict[str, Any] = {}
    for key in TEXT_FIELDS:
        values[key] = "" if data.get(key) is None else str(data.get(key))
    for key in LIST_FIELDS:
        values[key] = "\n".join(str(v) for v in data.get(key) or [])
    prov = data.get("provenance") or {}
    for key in PROVENANCE_TEXT:
        values[f"provenance_{key}"] = "" if prov.get(key) is None else str(prov.get(key))
    for key in PROVENANCE_LIST:
        values[f"provenance_{key}"] = "\n".join(str(v) for v in prov.get(key) or [])
    values["approved_by"] = prov.get("approved_by")
    values["approved_on"] = prov.get("approved_on")
    return values


def _set_text(mapping: Any, key: str, value: str) -> None:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    value = value.replace("\r\n", "\n").strip()
    if not value:
        mapping[key] = None
        return
    old = mapping.get(key)
    if str(old) == value if old is not None else False:
        return  # unchanged: keep the original scalar (and its style) untouched
    if isinstance(old, LiteralScalarString):
        mapping[key] = LiteralScalarString(value)
    elif isinstance(old, FoldedScalarString) or len(value) > 80:
        # Folded style as the files use it (">-"), wrapped like the hand-written entries.
        mapping[key] = _fold(" ".join(value.split()))
    else:
        mapping[key] = " ".join(value.split())


def _set_list(mapping: Any, key: str, value: str) -> None:
    from ruamel.yaml.comments import CommentedSeq

    items = [line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip()]
    old = mapping.get(key)
    if isinstance(old, CommentedSeq):
        if [str(v) for v in old] == items:
            return
        del old[:]
        old.extend(items)
    else:
        seq = CommentedSeq(items)
        mapping[key] = seq


def apply_fields(source: str, fields: Mapping[str, str]) -> str:
    """The YAML text with the form's fields applied (ruamel round trip: comments stay)."""
    y = _yaml()
    data = y.load(source)
    for key in TEXT_FIELDS:
        if key in fields:
            value = str(fields[key])[:MAX_FIELD]
            if key in REQUIRED_TEXT and not value.strip():
                raise EditorError(f"„{TEXT_FIELDS[key]}“ darf nicht leer sein.")
            _set_text(data, key, value)
    for key in LIST_FIELDS:
        if key in fields:
            _set_list(data, key, str(fields[key])[:MAX_FIELD])
    prov = data.get("provenance")
    if prov is not None:
        for key in PROVENANCE_TEXT:
            if f"provenance_{key}" in fields:
                value = str(fields[f"provenance_{key}"]).strip()
                if not value:
                    raise EditorError("Quelle und Stand der Information dürfen nicht leer sein.")
                if str(prov.get(key)) != value:
                    prov[key] = value
        for key in PROVENANCE_LIST:
            if f"provenance_{key}" in fields:
                _set_list(prov, key, str(fields[f"provenance_{key}"])[:MAX_FIELD])
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


# The import's (English) findings, in German for the console. Unknown messages are shown as
# they are, marked as the checker's original wording.
_PROBLEM_TEXTS: List[Tuple[str, str]] = [
    (r"field required", "fehlt, ist aber Pflicht"),
    (r"none is not an allowed value", "darf nicht leer sein"),
    (r"at least one synonym is required", "mindestens ein Synonym ist nötig"),
    (r"'(?P<a>.+)' is also a synonym of '(?P<b>.+)'", "„{a}“ ist schon ein Synonym von „{b}“"),
    (r"invalid or missing URL scheme", "ist keine gültige Internetadresse (sie muss mit https:// beginnen)"),
    (r"URL scheme not permitted", "ist keine gültige Internetadresse (nur http:// oder https://)"),
    (r"URL host invalid|URL invalid.*", "ist keine gültige Internetadresse"),
    (r"ensure this value has at most (?P<a>\d+) characters?", "darf höchstens {a} Zeichen lang sein"),
    (r"ensure this value has at least (?P<a>\d+) characters?", "muss mindestens {a} Zeichen lang sein"),
    (r"ensure this value has at least (?P<a>\d+) items?", "braucht mindestens {a} Einträge"),
    (r"str type expected", "muss ein Text sein"),
    (r"value is not a valid list", "muss eine Liste sein (ein Eintrag pro Zeile)"),
    (r"value is not a valid dict", "muss eine Zuordnung sein"),
    (r"extra fields not permitted", "ist kein bekanntes Feld"),
    (r"invalid date format|value is not a valid date", "ist kein gültiges Datum (JJJJ-MM-TT)"),
    (r"value is not a valid (?:float|integer|decimal)", "muss eine Zahl sein"),
    (r"must not be negative", "darf nicht negativ sein"),
    (r"no fees given.*", "keine Gebühren angegeben: bitte Gebühren eintragen oder im „Hinweis zu Gebühren“ "
                         "sagen, wer die Gebühr nennt"),
    (r"unknown department '(?P<a>.+)'", "„{a}“ ist keine bekannte Stelle"),
    (r"catalogue says '(?P<a>.+)'", "laut Leistungskatalog ist „{a}“ zuständig"),
    (r"unknown location '(?P<a>.+)'", "„{a}“ ist kein bekannter Standort"),
    (r"unknown opening hours '(?P<a>.+)'", "„{a}“ sind keine bekannten Öffnungszeiten"),
    (r"unknown weekday '(?P<a>.+?)'.*", "„{a}“ ist kein Wochentag (mo, di, mi, do, fr, sa, so)"),
    (r"'(?P<a>.+)' on (?P<b>.+) is not 'HH:MM-HH:MM'", "„{a}“ am {b} hat nicht die Form HH:MM-HH:MM"),
    (r"must be a lower-case slug.*", "muss ein Kürzel aus Kleinbuchstaben und Bindestrichen sein "
                                     "(z. B. wohnsitz-anmelden)"),
    (r"file must be named (?P<a>.+)", "die Datei muss {a} heißen"),
    (r"duplicate slug", "das Kürzel ist doppelt vergeben"),
    (r"entry must be a mapping", "der Eintrag hat nicht die Form „Feld: Wert“"),
    (r"not valid YAML.*", "ist keine gültige YAML-Datei"),
    (r"is not an e-mail address", "ist keine gültige E-Mail-Adresse"),
    (r"catalogue service has no entry", "für diese Leistung des Katalogs fehlt der Eintrag"),
    (r"catalogue department/body has no entry", "für diese Stelle des Katalogs fehlt der Eintrag"),
    (r"unknown department \(not in catalogue\)", "diese Stelle steht nicht im Leistungskatalog"),
    (r"must be 'der', 'die' or 'das'.*", "muss „der“, „die“ oder „das“ sein (der Artikel des Namens)"),
    (r"must be 'department' or 'external'", "muss „department“ (Stelle der Stadt) oder „external“ (andere "
                                            "Behörde) sein"),
    (r"file is missing", "die Datei fehlt"),
    (r"expected a list under '(?P<a>.+)'", "unter „{a}“ wird eine Liste erwartet"),
]
_PROBLEM_PATTERNS = [(re.compile(rf"^(?:{pattern})$", re.S), text) for pattern, text in _PROBLEM_TEXTS]


def german_message(message: str) -> str:
    """The German text for one of the import's messages (its original if the pattern is unknown)."""
    for pattern, text in _PROBLEM_PATTERNS:
        match = pattern.match(message.strip())
        if match:
            return text.format(**match.groupdict())
    return f"Prüfmeldung: {message}"


def field_label(field: str) -> str:
    """German label of a field path ("provenance.source_url" -> "Quelle (Hauptquelle, URL)")."""
    labels = {**TEXT_FIELDS, **LIST_FIELDS}
    labels.update({f"provenance.{k}": v for k, v in {**PROVENANCE_TEXT, **PROVENANCE_LIST}.items()})
    labels.update({"provenance": "Herkunft der Information", "provenance.approved_by": "Freigegeben von",
                   "provenance.approved_on": "Freigegeben am", "slug": "Kürzel", "responsible": "Zuständige Stelle",
                   "location": "Standort", "hours": "Öffnungszeiten", "fees": "Gebühren"})
    base = re.sub(r"\.\d+$", "", field)  # "synonyms.3" -> "synonyms"
    label = labels.get(base) or labels.get(field)
    return re.sub(r"\s*\(.*\)$", "", label) if label else field


def german_problem(problem: Any) -> str:
    """One finding of the import in German, with file, entry and field kept."""
    parts = [f"Datei {problem.file}"]
    if problem.entry and problem.entry != "-":
        parts.append(f"Eintrag „{problem.entry}“")
    if problem.field and problem.field != "-":
        label = field_label(problem.field)
        parts.append(f"Feld „{label}“" + (f" ({problem.field})" if label != problem.field else ""))
    return ", ".join(parts) + ": " + german_message(str(problem.message))


def validate(settings: Settings, slug: str, yaml_text: str) -> KnowledgeBase:
    """Load the whole knowledge folder with this file replaced; the import's own checks."""
    with tempfile.TemporaryDirectory(prefix="kb-edit-") as tmp:
        folder = Path(tmp) / "kb"
        shutil.copytree(settings.knowledge_dir, folder)
        (folder / "services" / f"{slug}.yml").write_text(yaml_text, encoding="utf-8")
        try:
            return load_knowledge(folder, settings.catalogue_path if settings.catalogue_file else None)
        except KnowledgeError as err:
            problems = [german_problem(p) for p in err.problems]
            raise EditorError("Die Änderung besteht die Prüfung nicht:", problems) from err
        except Exception as err:  # YAML that cannot even be parsed
            raise EditorError("Die Änderung ergibt keine gültige YAML-Datei.", [str(err)[:300]]) from err


def unified_diff(old: str, new: str, slug: str) -> str:
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"services/{slug}.yml (bisher)", tofile=f"services/{slug}.yml (neu)", n=2,
    ))


def propose(settings: Settings, slug: str, fields: Mapping[str, str], actor: str,
            note: Optional[str] = None) -> TrainerKbDraft:
    """Store a validated draft; nothing in knowledge/ changes until a supervisor approves it."""
    path = service_path(settings, slug)
    current = path.read_text(encoding="utf-8")
    proposed = apply_fields(current, fields)
    if proposed == current:
        raise EditorError("Sie haben nichts geändert.")
    validate(settings, slug, proposed)
    diff = unified_diff(current, proposed, slug)
    with session_scope(settings.db_url) as session:
        version = (session.execute(
            select(func.max(TrainerKbDraft.version)).where(TrainerKbDraft.service_slug == slug)
        ).scalar() or 0) + 1
        draft = TrainerKbDraft(
            service_slug=slug, version=version, status="draft", yaml_text=proposed,
            base_sha256=sha256_text(current), diff=diff, note=(note or "").strip()[:500] or None,
            created_by=actor,
        )
        session.add(draft)
        session.flush()
    log.info("knowledge editor: %s proposed version %d of %s", actor, draft.version, slug)
    return draft


def get_draft(settings: Settings, draft_id: int) -> TrainerKbDraft:
    with session_scope(settings.db_url) as session:
        draft = session.get(TrainerKbDraft, draft_id)
    if draft is None:
        raise EditorError("Diesen Entwurf gibt es nicht.", status_code=404)
    return draft


def history(settings: Settings, slug: Optional[str] = None, status: Optional[str] = None,
            limit: int = 100) -> List[TrainerKbDraft]:
    query = select(TrainerKbDraft).order_by(TrainerKbDraft.created_at.desc(), TrainerKbDraft.id.desc()).limit(limit)
    if slug:
        query = query.where(TrainerKbDraft.service_slug == slug)
    if status:
        query = query.where(TrainerKbDraft.status == status)
    with session_scope(settings.db_url) as session:
        return list(session.execute(query).scalars())


def _with_approval(yaml_text: str, approver: str, today: dt.date) -> str:
    y = _yaml()
    data = y.load(yaml_text)
    data["provenance"]["approved_by"] = approver
    data["provenance"]["approved_on"] = today
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


@dataclasses.dataclass(frozen=True)
class Approval:
    draft: TrainerKbDraft
    services: int
    lookups_changed: bool


def approve(settings: Settings, draft_id: int, approver: str, approver_name: str,
            today: Optional[dt.date] = None) -> Approval:
    """Write the approved version to knowledge/, re-import the database, regenerate lookups."""
    from servicecenter.knowledge.store import import_knowledge
    from servicecenter.nlu_lookups import write_lookups
    from servicecenter.training import LOOKUPS_FILE

    today = today or dt.date.today()
    with _approve_lock:
        draft = get_draft(settings, draft_id)
        if draft.status != "draft":
            raise EditorError("Über diesen Entwurf wurde schon entschieden.", status_code=409)
        path = service_path(settings, draft.service_slug)
        current = path.read_text(encoding="utf-8")
        if sha256_text(current) != draft.base_sha256:
            raise EditorError(
                "Die Leistung wurde seit diesem Entwurf geändert. Bitte den Entwurf verwerfen und "
                "auf dem aktuellen Stand neu anlegen.", status_code=409,
            )
        final = _with_approval(draft.yaml_text, approver_name, today)
        kb = validate(settings, draft.service_slug, final)
        atomic_write_text(path, final)
        try:
            with session_scope(settings.db_url) as session:
                import_knowledge(session, kb)
        except Exception:
            atomic_write_text(path, current)  # the database import failed: the file goes back too
            raise
        lookups_changed = False
        if settings.knowledge_dir.resolve() == (PROJECT_ROOT / "knowledge" / "geldern").resolve():
            # Synonyms flow into the lookup tables of the next training run.
            data_dir = get_trainer_settings().data_dir
            target = data_dir / "nlu" / LOOKUPS_FILE.name if data_dir else LOOKUPS_FILE
            lookups_changed = write_lookups(kb, target)
        now = dt.datetime.now(dt.timezone.utc)
        with session_scope(settings.db_url) as session:
            session.execute(
                update(TrainerKbDraft).where(TrainerKbDraft.id == draft.id).values(
                    status="approved", decided_by=approver, decided_at=now, yaml_text=final,
                    diff=unified_diff(current, final, draft.service_slug),
                )
            )
            session.execute(
                update(TrainerKbDraft).where(
                    TrainerKbDraft.service_slug == draft.service_slug, TrainerKbDraft.status == "draft",
                    TrainerKbDraft.id != draft.id,
                ).values(status="superseded", decided_by=approver, decided_at=now)
            )
    log.info("knowledge editor: %s approved version %d of %s", approver, draft.version, draft.service_slug)
    return Approval(get_draft(settings, draft_id), len(kb.services), lookups_changed)


def reject(settings: Settings, draft_id: int, actor: str) -> TrainerKbDraft:
    draft = get_draft(settings, draft_id)
    if draft.status != "draft":
        raise EditorError("Über diesen Entwurf wurde schon entschieden.", status_code=409)
    with session_scope(settings.db_url) as session:
        session.execute(update(TrainerKbDraft).where(TrainerKbDraft.id == draft_id, TrainerKbDraft.status == "draft")
                        .values(status="rejected", decided_by=actor, decided_at=dt.datetime.now(dt.timezone.utc)))
    return get_draft(settings, draft_id)
