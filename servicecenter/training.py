"""Prepare everything a run needs: database, knowledge import, spaCy pipeline, model.

Each step is skipped when its result is up to date; the Rasa model is retrained only when
Rasa's fingerprint of config, domain and data has changed.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.knowledge.loader import KnowledgeBase, load_knowledge
from servicecenter.nlu_lookups import write_lookups
from servicecenter.knowledge.store import ImportSummary, import_knowledge
from servicecenter.nlp import build_spacy_pipeline
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


def train_model(settings: Settings, force: bool = False) -> Path:
    """Run ``rasa train``; Rasa reuses the last model when its fingerprint is unchanged."""
    settings.rasa_model_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(Path(sys.executable).parent / "rasa"), "train",
        "--config", str(PROJECT_ROOT / "config.yml"),
        "--domain", str(PROJECT_ROOT / "bot" / "domain"),
        "--data", str(PROJECT_ROOT / "bot" / "data"),
        "--out", str(settings.rasa_model_dir),
        "--fixed-model-name", "geldern",
    ]
    if force:
        cmd.append("--force")
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise TrainingError(f"'rasa train' failed with exit code {result.returncode}")
    log.info("rasa train finished in %.1fs", time.monotonic() - started)
    return settings.rasa_model_dir / "geldern.tar.gz"


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
        print("• model: rasa train (skipped by Rasa when nothing changed)", flush=True)
        train_model(settings, force=force)
