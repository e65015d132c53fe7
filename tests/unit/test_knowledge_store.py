"""Import into the database, read back, export; a failed import changes nothing."""

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.knowledge.store import export_records, import_knowledge, read_knowledge
from servicecenter.models import KbService, KbServiceFee, KbServiceSynonym
from servicecenter.training import upgrade_database


@pytest.fixture()
def empty_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade_database(url)
    return url


def test_import_and_read_back_gives_the_same_entries(empty_db, knowledge):
    with session_scope(empty_db) as session:
        summary = import_knowledge(session, knowledge)
    assert summary.services == 43
    with session_scope(empty_db) as session:
        back = read_knowledge(session, knowledge.catalogue)
        fees = session.execute(
            select(KbServiceFee.amount_eur).where(KbServiceFee.service_slug == "reisepass").order_by(KbServiceFee.position)
        ).scalars().all()
    assert back.services["reisepass"] == knowledge.services["reisepass"]
    assert float(fees[0]) == 70.0
    assert back.organisations["kreis-kleve"].phone == knowledge.organisations["kreis-kleve"].phone


def test_reimport_replaces_instead_of_duplicating(empty_db, knowledge):
    for _ in range(2):
        with session_scope(empty_db) as session:
            import_knowledge(session, knowledge)
    with session_scope(empty_db) as session:
        assert session.execute(select(func.count()).select_from(KbService)).scalar() == 43
        synonyms = session.execute(select(func.count()).select_from(KbServiceSynonym)).scalar()
    assert synonyms == sum(len(s.synonyms) for s in knowledge.services.values())


def test_failed_import_keeps_the_previous_knowledge(empty_db, knowledge):
    with session_scope(empty_db) as session:
        import_knowledge(session, knowledge)
    broken = knowledge.services["reisepass"].copy(update={"responsible": "does-not-exist"})
    knowledge_broken = type(knowledge)(
        knowledge.catalogue, {**knowledge.services, "reisepass": broken}, knowledge.organisations,
        knowledge.locations, knowledge.hours,
    )
    with pytest.raises(IntegrityError):
        with session_scope(empty_db) as session:
            import_knowledge(session, knowledge_broken)
    with session_scope(empty_db) as session:
        row = session.get(KbService, "reisepass")
        assert row is not None and row.responsible_slug == "buergerbuero"


def test_export_records_have_the_required_fields(knowledge):
    records = list(export_records(knowledge))
    assert len(records) == 43
    reisepass = next(r for r in records if r["slug"] == "reisepass")
    assert {"slug", "title", "synonyms", "text"} <= set(reisepass)
    assert reisepass["title"] == "Reisepass beantragen"
    assert "Pass" in reisepass["synonyms"]


def _assistant(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "servicecenter.cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def test_cli_import_then_export_to_file(empty_db, tmp_path):
    import os

    env = {**os.environ, "ASSISTANT_DATABASE_URL": empty_db}
    result = _assistant("knowledge", "import", env=env)
    assert result.returncode == 0, result.stderr
    assert "imported 43 services" in result.stdout
    out = tmp_path / "kb.jsonl"
    result = _assistant("knowledge", "export", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["slug"] for r in lines] == sorted(r["slug"] for r in lines)
    assert len(lines) == 43
    result = _assistant("knowledge", "export", env=env)
    assert len(result.stdout.splitlines()) == 43


def test_cli_import_of_a_broken_folder_fails_clearly_and_changes_nothing(empty_db, tmp_path):
    import os
    import shutil

    env = {**os.environ, "ASSISTANT_DATABASE_URL": empty_db}
    assert _assistant("knowledge", "import", env=env).returncode == 0
    broken = tmp_path / "geldern"
    shutil.copytree(PROJECT_ROOT / "knowledge" / "geldern", broken)
    (broken / "services" / "reisepass.yml").write_text("slug: reisepass\nname: [unclosed\n")
    result = _assistant("knowledge", "import", "--dir", str(broken), env=env)
    assert result.returncode == 2
    assert "reisepass.yml" in result.stderr and "Nothing was imported" in result.stderr
    with session_scope(empty_db) as session:
        assert session.get(KbService, "reisepass").name == "Reisepass beantragen"
