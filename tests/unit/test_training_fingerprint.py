"""Training only when something changed: `prepare` trains the model when config, domain, data,
NLU code, spaCy pipeline or training packages differ from what the model was trained from,
and never because of what a candidate training in models/trainer leaves behind.

``rasa train`` itself is replaced by a stand-in that writes a model file and counts its calls;
everything else (the fingerprint, the record beside the model, the decision) is the real code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

import pytest

from servicecenter import PROJECT_ROOT, training
from servicecenter.settings import Settings
from servicecenter.training import ModelSources, model_status, prepare_model


@pytest.fixture()
def project(tmp_path: Path) -> ModelSources:
    """A copy of everything the model is trained from."""
    root = tmp_path / "project"
    (root / "bot").mkdir(parents=True)
    shutil.copyfile(PROJECT_ROOT / "config.yml", root / "config.yml")
    for part in ("domain", "data", "nlu"):
        shutil.copytree(PROJECT_ROOT / "bot" / part, root / "bot" / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    spacy = root / "spacy"
    spacy.mkdir()
    (spacy / "meta.json").write_text('{"name": "geldern"}', encoding="utf-8")
    (spacy / "build-stamp.json").write_text('{"spacy": "3"}', encoding="utf-8")
    return ModelSources(config=root / "config.yml", domain=root / "bot" / "domain", data=root / "bot" / "data",
                        code=root / "bot" / "nlu", spacy=spacy)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", var_dir=tmp_path / "var")


@pytest.fixture()
def trainings(monkeypatch) -> List[str]:
    """Calls of ``rasa train``; each writes a distinct model archive."""
    calls: List[str] = []

    def fake_train(settings: Settings, force: bool = False) -> Path:
        calls.append("force" if force else "train")
        model = training.model_path(settings)
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(f"model {len(calls)}".encode())
        return model

    monkeypatch.setattr(training, "train_model", fake_train)
    return calls


def candidate_training_side_effects(settings: Settings, sources: ModelSources) -> None:
    """What a trainer job and the trainer tests leave on disk: a job folder with a reduced-epoch
    config, a training data copy with a curated example, a candidate model and its own Rasa
    cache; the generated lookup file rewritten with the same content; everything touched."""
    job = settings.models_dir / "trainer" / "jobs" / "job-1"
    data = job / "data"
    shutil.copytree(sources.data, data)
    (data / "nlu" / "curated.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: svc_kfz_zulassung\n  examples: |\n    - Wohnwagen anmelden\n',
        encoding="utf-8")
    config = sources.config.read_text(encoding="utf-8").replace("epochs: 120", "epochs: 30")
    (job / "config.yml").write_text(config, encoding="utf-8")
    (job / "rasa").mkdir()
    (job / "rasa" / "candidate.tar.gz").write_bytes(b"candidate")
    cache = settings.models_dir / "trainer" / "rasa-cache"
    cache.mkdir(parents=True)
    (cache / "cache.db").write_bytes(b"sqlite")
    for path in [sources.config, *sources.domain.rglob("*.yml"), *sources.data.rglob("*.yml")]:
        path.write_bytes(path.read_bytes())  # same content, new modification time
    (sources.data / ".curated.yml.123.part").write_text("half-written", encoding="utf-8")


def test_prepare_trains_once_and_not_again_after_a_candidate_training(project, settings, trainings, capsys):
    assert prepare_model(settings, sources=project) is True
    assert trainings == ["train"]
    record = json.loads(training.fingerprint_path(settings).read_text(encoding="utf-8"))
    assert record["fingerprint"] == model_status(settings, project).fingerprint
    assert {"config.yml", "bot/nlu/blend.py", "spacy/meta.json", "package:rasa"} <= set(record["parts"])
    assert any(name.startswith("bot/data/nlu/") for name in record["parts"])

    candidate_training_side_effects(settings, project)

    capsys.readouterr()
    assert prepare_model(settings, sources=project) is False
    assert trainings == ["train"]
    assert "up to date, not training" in capsys.readouterr().out
    assert model_status(settings, project).up_to_date


@pytest.mark.parametrize("change,expected", [
    (lambda s: (s.data / "nlu" / "curated.yml").write_text("version: \"3.1\"\nnlu: []\n", encoding="utf-8"),
     "bot/data/nlu/curated.yml"),
    (lambda s: s.config.write_text(s.config.read_text(encoding="utf-8").replace("epochs: 120", "epochs: 121"),
                                   encoding="utf-8"), "config.yml"),
    (lambda s: (s.code / "blend.py").write_text("# changed\n", encoding="utf-8"), "bot/nlu/blend.py"),
    (lambda s: (s.spacy / "build-stamp.json").write_text('{"spacy": "4"}', encoding="utf-8"),
     "spacy/build-stamp.json"),
    (lambda s: next(s.domain.rglob("*.yml")).unlink(), "bot/domain/"),
])
def test_a_changed_source_trains_again_and_says_which(project, settings, trainings, capsys, change, expected):
    prepare_model(settings, sources=project)
    change(project)
    status = model_status(settings, project)
    assert not status.up_to_date and expected in status.reason
    capsys.readouterr()
    assert prepare_model(settings, sources=project) is True
    assert expected in capsys.readouterr().out
    assert trainings == ["train", "train"]
    assert model_status(settings, project).up_to_date


def test_a_replaced_model_file_or_a_lost_record_trains_again(project, settings, trainings):
    prepare_model(settings, sources=project)
    training.model_path(settings).write_bytes(b"an activated candidate")
    assert "replaced" in model_status(settings, project).reason
    prepare_model(settings, sources=project)
    training.fingerprint_path(settings).unlink()
    assert not model_status(settings, project).up_to_date
    prepare_model(settings, sources=project)
    assert trainings == ["train", "train", "train"]


def test_force_trains_even_when_up_to_date(project, settings, trainings):
    prepare_model(settings, sources=project)
    assert prepare_model(settings, force=True, sources=project) is True
    assert trainings == ["train", "force"]


def test_a_package_upgrade_changes_the_fingerprint(project, monkeypatch):
    before = training.source_parts(project)
    monkeypatch.setattr(training, "_package_version", lambda name: "99.0" if name == "rasa" else "1.0")
    after = training.source_parts(project)
    assert training.fingerprint_of(before) != training.fingerprint_of(after)
    assert after["package:rasa"] == "99.0"


def test_other_trainings_keep_out_of_the_projects_rasa_cache(tmp_path):
    assert training.separate_rasa_cache() == {"RASA_MAX_CACHE_SIZE": "0"}
    env = training.separate_rasa_cache(tmp_path / "cache")
    assert env == {"RASA_CACHE_DIRECTORY": str(tmp_path / "cache")} and (tmp_path / "cache").is_dir()
