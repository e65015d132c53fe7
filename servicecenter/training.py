"""Prepare everything a run needs: database, knowledge import, spaCy pipeline, model.

Each step is skipped when its result is up to date. The Rasa model is trained only when the
project's fingerprint of what determines it (config.yml, bot/domain, bot/data, bot/nlu, the
spaCy pipeline, the training packages' versions) differs from the one recorded beside the
model in models/rasa/geldern.fingerprint.json, or when the model file was replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from alembic import command
from alembic.config import Config

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.files import atomic_write_text
from servicecenter.knowledge.loader import KnowledgeBase, load_knowledge
from servicecenter.knowledge.store import ImportSummary, import_knowledge
from servicecenter.nlp import build_spacy_pipeline
from servicecenter.nlu_lookups import write_lookups
from servicecenter.settings import Settings, get_settings

log = logging.getLogger(__name__)
LOOKUPS_FILE = PROJECT_ROOT / "bot" / "data" / "nlu" / "generated_knowledge.yml"


class TrainingError(RuntimeError):
    pass


def upgrade_database(url: Optional[str] = None) -> None:
    """Apply the Alembic migrations (to ``url``, default: the configured database)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # migrations/env.py reads the URL from the "-x url=..." argument.
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"] if url else [])
    command.upgrade(config, "head")


def load_and_import(settings: Settings, url: Optional[str] = None) -> tuple[KnowledgeBase, ImportSummary]:
    kb = load_knowledge(settings.knowledge_dir, settings.catalogue_path)
    with session_scope(url) as session:
        summary = import_knowledge(session, kb)
    return kb, summary


MODEL_NAME = "geldern"
FINGERPRINT_NAME = f"{MODEL_NAME}.fingerprint.json"
# Installed packages whose version changes what `rasa train` produces.
MODEL_PACKAGES = ("rasa", "tensorflow", "spacy", "spacy-lookups-data", "scikit-learn", "skops")
_IGNORED_NAMES = {"__pycache__", ".DS_Store"}


@dataclass(frozen=True)
class ModelSources:
    """Everything ``rasa train`` reads: config, domain, training data, the project's NLU
    components (bot/nlu) and the spaCy pipeline that config.yml loads."""

    config: Path
    domain: Path
    data: Path
    code: Path
    spacy: Path

    @classmethod
    def of(cls, settings: Settings) -> "ModelSources":
        return cls(
            config=PROJECT_ROOT / "config.yml",
            domain=PROJECT_ROOT / "bot" / "domain",
            data=PROJECT_ROOT / "bot" / "data",
            code=PROJECT_ROOT / "bot" / "nlu",
            spacy=settings.spacy_model_dir,
        )

    def labelled(self) -> List[Tuple[str, Path]]:
        return [("config.yml", self.config), ("bot/domain", self.domain), ("bot/data", self.data),
                ("bot/nlu", self.code), ("spacy", self.spacy)]


@dataclass(frozen=True)
class ModelStatus:
    """Whether the model at ``model`` was trained from the current sources (``reason`` says why not)."""

    model: Path
    up_to_date: bool
    reason: str
    parts: Dict[str, str]

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.parts)


def _source_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if path.is_dir() or any(part in _IGNORED_NAMES or part.startswith(".") for part in relative):
            continue
        if path.suffix in (".pyc", ".part"):
            continue
        yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def source_parts(sources: ModelSources) -> Dict[str, str]:
    """Content hash of every source file by a stable name, and the versions of the training
    packages. File contents only: modification times, the Rasa cache and candidate models in
    models/trainer do not count."""
    parts: Dict[str, str] = {}
    for label, root in sources.labelled():
        if not root.exists():
            parts[label] = "missing"
            continue
        for path in _source_files(root):
            name = label if path == root else f"{label}/{path.relative_to(root).as_posix()}"
            parts[name] = _sha256(path)
    parts["python"] = ".".join(map(str, sys.version_info[:2]))
    for package in MODEL_PACKAGES:
        parts[f"package:{package}"] = _package_version(package)
    return parts


def fingerprint_of(parts: Dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def model_path(settings: Settings) -> Path:
    return settings.rasa_model_dir / f"{MODEL_NAME}.tar.gz"


def fingerprint_path(settings: Settings) -> Path:
    return settings.rasa_model_dir / FINGERPRINT_NAME


def _changed(old: Dict[str, str], new: Dict[str, str]) -> List[str]:
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def model_status(settings: Settings, sources: Optional[ModelSources] = None) -> ModelStatus:
    """Compare the sources with the fingerprint recorded when the model was trained."""
    parts = source_parts(sources or ModelSources.of(settings))
    model = model_path(settings)
    if not model.exists():
        return ModelStatus(model, False, "no trained model yet", parts)
    record_file = fingerprint_path(settings)
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ModelStatus(model, False, f"no readable {record_file.name} beside the model", parts)
    if record.get("model_sha256") != _sha256(model):
        return ModelStatus(model, False, "the model file was replaced since it was trained here", parts)
    changed = _changed(record.get("parts") or {}, parts)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return ModelStatus(model, False, f"changed: {shown}", parts)
    return ModelStatus(model, True, "up to date", parts)


def record_fingerprint(settings: Settings, parts: Dict[str, str]) -> Path:
    """Write the fingerprint of ``parts`` beside the freshly trained model."""
    target = fingerprint_path(settings)
    record = {
        "model": model_path(settings).name,
        "model_sha256": _sha256(model_path(settings)),
        "fingerprint": fingerprint_of(parts),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parts": parts,
    }
    atomic_write_text(target, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return target


def separate_rasa_cache(directory: Optional[Path] = None) -> Dict[str, str]:
    """Environment for a ``rasa train`` or ``rasa test`` child that trains something other than
    the project's model (trainer candidates, cross-validation folds, evaluation splits), so that
    it never replaces or evicts the entries of .rasa/cache that `prepare` restores: its own
    training cache in ``directory``, or with ``None`` no cache at all (for forced trainings,
    which only write to it)."""
    if directory is None:
        return {"RASA_MAX_CACHE_SIZE": "0"}
    directory.mkdir(parents=True, exist_ok=True)
    return {"RASA_CACHE_DIRECTORY": str(directory)}


def train_model(settings: Settings, force: bool = False) -> Path:
    """Run ``rasa train`` (its own output shows the progress) into models/rasa/geldern.tar.gz.

    Rasa's training cache (.rasa/cache) restores the components whose inputs are unchanged;
    ``force`` trains every component again.
    """
    settings.rasa_model_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(Path(sys.executable).parent / "rasa"), "train",
        "--config", str(PROJECT_ROOT / "config.yml"),
        "--domain", str(PROJECT_ROOT / "bot" / "domain"),
        "--data", str(PROJECT_ROOT / "bot" / "data"),
        "--out", str(settings.rasa_model_dir),
        "--fixed-model-name", MODEL_NAME,
    ]
    if force:
        cmd.append("--force")
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise TrainingError(f"'rasa train' failed with exit code {result.returncode}")
    log.info("rasa train finished in %.1fs", time.monotonic() - started)
    return model_path(settings)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def prepare_model(settings: Settings, force: bool = False,
                  sources: Optional[ModelSources] = None) -> bool:
    """Train the model unless it was trained from exactly the current sources; True if it trained."""
    status = model_status(settings, sources)
    short = status.fingerprint[:12]
    if status.up_to_date and not force:
        print(f"• model: up to date, not training ({_shown(status.model)} was trained from these"
              f" sources, fingerprint {short})", flush=True)
        return False
    reason = "forced" if force else status.reason
    print(f"• model: training ({reason}); Rasa shows its progress, DIET takes a few minutes on"
          " two cores", flush=True)
    started = time.monotonic()
    train_model(settings, force=force)
    # The sources as they were when training started: a change during training trains again.
    record_fingerprint(settings, status.parts)
    print(f"  trained in {time.monotonic() - started:.0f}s, fingerprint {short}", flush=True)
    return True


def prepare(settings: Optional[Settings] = None, train: bool = True, force: bool = False) -> None:
    settings = settings or get_settings()
    print("• database: migrating to the latest schema", flush=True)
    upgrade_database()
    print("• knowledge: validating and importing knowledge/", flush=True)
    kb, summary = load_and_import(settings)
    print(f"  {summary.services} services, {summary.organisations} offices, {summary.synonyms} synonyms", flush=True)
    if write_lookups(kb, LOOKUPS_FILE):
        print(f"  lookup tables regenerated: {LOOKUPS_FILE.relative_to(PROJECT_ROOT)}", flush=True)
    print("• spaCy: German pipeline", flush=True)
    if build_spacy_pipeline(settings.spacy_model_dir):
        print(f"  built {settings.spacy_model_dir.relative_to(PROJECT_ROOT)}", flush=True)
    else:
        print("  up to date", flush=True)
    if train:
        prepare_model(settings, force=force)
