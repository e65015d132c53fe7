"""The trainer workbench's database code on PostgreSQL: migration, inbox sync and listing,
decisions, tags, knowledge drafts and model activations.

Needs a server: `.ci/run` starts one and sets ASSISTANT_TEST_POSTGRES_URL; without it the
test is skipped and says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from servicecenter import PROJECT_ROOT
from servicecenter.db import get_engine, session_scope

sys.path.insert(0, str(PROJECT_ROOT / "tests" / "unit"))
from test_trainer_support import conversation, knowledge_copy, settings_for  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture()
def pg_url(pg_url):  # type: ignore[no-untyped-def]
    """The emptied, migrated PostgreSQL test database (tests/conftest.py) with the knowledge
    base and Rasa's events table."""
    from servicecenter.knowledge.loader import load_knowledge
    from servicecenter.knowledge.store import import_knowledge
    from servicecenter.rasa_tables import create_events_table

    with session_scope(pg_url) as session:
        import_knowledge(session, load_knowledge(PROJECT_ROOT / "knowledge" / "geldern"))
    create_events_table(get_engine(pg_url))
    return pg_url


def test_trainer_workbench_on_postgres(pg_url, tmp_path):
    from servicecenter.reports.feedback import record_feedback
    from servicecenter.trainer import activation, inbox, jobs, review
    from servicecenter.trainer import knowledge_editor as editor
    from servicecenter.trainer.models import TrainerJob

    tables = set(inspect(get_engine(pg_url)).get_table_names())
    assert {"trainer_messages", "trainer_decisions", "trainer_conversation_tags", "trainer_kb_drafts",
            "trainer_jobs", "trainer_activations", "trainer_sync_state"} <= tables

    first = conversation(pg_url, "Ich heiße Peter Müller und mein Pass ist weg", "svc_reisepass", 0.3)
    conversation(pg_url, "ich heiße peter müller und mein pass ist weg!", "svc_reisepass", 0.35, channel="voice")
    conversation(pg_url, "Ich will mit einem Menschen sprechen", "human", 0.9, action="action_handoff",
                 outcome="handoff")
    assert inbox.sync(pg_url).new_messages == 3
    items, total = inbox.list_items(inbox.Filters(), url=pg_url)
    assert total == 2
    assert items[0].count == 2 and "Müller" not in items[0].message.text
    assert [i.message.text for i in inbox.list_items(inbox.Filters(handoff=True), url=pg_url)[0]] == [
        "Ich will mit einem Menschen sprechen"]
    record_feedback(first, "down", None, "chat", url=pg_url)
    negative, _ = inbox.list_items(inbox.Filters(negative_feedback=True), url=pg_url)
    assert [i.message.conversation_id for i in negative] == [first] and negative[0].negative_feedback

    nlu = tmp_path / "nlu"
    shutil.copytree(PROJECT_ROOT / "bot" / "data" / "nlu", nlu)
    result = inbox.decide(items[0].message.id, "correct", "trainer-a", intent="svc_ausweis_verlust",
                          service="reisepass", nlu_dir=nlu, url=pg_url)
    assert result.written and result.affected == 2

    review.add_tag(first, "wrong_answer", "trainer-a", url=pg_url)
    assert [t.tag for t in review.tags(first, url=pg_url)] == ["wrong_answer"]
    assert [t.kind for t in review.conversation(first, url=pg_url)][:2] == ["user", "action"]

    settings = settings_for(pg_url, tmp_path, knowledge_copy(tmp_path))
    draft = editor.propose(settings, "fundbuero", {"contact_note": "Bitte vorher anrufen."}, "trainer-a")
    editor.approve(settings, draft.id, "chefin", "chefin")
    assert editor.get_draft(settings, draft.id).status == "approved"

    settings.rasa_model_dir.mkdir(parents=True)
    jobs.active_model(settings).write_bytes(b"v1")
    model = jobs.job_dir(settings, "00112233aabbccdd") / "rasa" / "candidate.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"v2")
    with session_scope(pg_url) as session:
        session.add(TrainerJob(id="00112233aabbccdd", status="done", started_by="t", epochs_done=1, epochs_total=1,
                               model_path=str(model), model_sha256=hashlib.sha256(b"v2").hexdigest(),
                               gate_passed=True))
    loaded = []
    activation.activate(settings, "00112233aabbccdd", "t", "trainer", loader=lambda u, t, m: loaded.append(m))
    assert jobs.active_model(settings).read_bytes() == b"v2" and loaded
    activation.rollback(settings, "t", loader=lambda u, t, m: loaded.append(m))
    assert Path(jobs.active_model(settings)).read_bytes() == b"v1"


def test_intent_changes_and_the_job_lease_on_postgres(pg_url, tmp_path):
    from servicecenter import leases
    from servicecenter.trainer import intents, jobs
    from servicecenter.trainer.errors import JobError
    from servicecenter.trainer.redaction import Redactor

    assert "trainer_intent_changes" in set(inspect(get_engine(pg_url)).get_table_names())
    bot = tmp_path / "bot"
    shutil.copytree(PROJECT_ROOT / "bot", bot, ignore=shutil.ignore_patterns("__pycache__"))
    files = intents.BotFiles.under(bot)
    redactor = Redactor(PROJECT_ROOT / "models" / "spacy" / "de_geldern")
    intents.add_intent("frage_parken", "Wo parke ich in der Innenstadt\nParkplätze am Markt\nParkhaus geöffnet",
                       "trainer-a", "answer", files=files, url=pg_url, redactor=redactor)
    intents.rename_intent("frage_parken", "parken_innenstadt", "trainer-b", files=files, url=pg_url)
    log = intents.history(pg_url)
    assert [(c.kind, c.intent, c.previous_name, c.changed_by) for c in log] == [
        ("rename", "parken_innenstadt", "frage_parken", "trainer-b"), ("add", "frage_parken", None, "trainer-a")]

    settings = settings_for(pg_url, tmp_path)
    first = jobs.create_job(settings, "trainer-a", epochs=1)
    with pytest.raises(JobError, match="bereits ein Training"):
        jobs.create_job(settings, "trainer-b", epochs=1)
    assert leases.current(jobs.JOB_LEASE, pg_url).holder == first.id
    # The runner's lease lapses (process gone): the job is failed, the next one starts.
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    assert leases.acquire(jobs.JOB_LEASE, first.id, 60, pg_url, now=past)
    assert jobs.running_job(pg_url) is None and jobs.get_job(first.id, pg_url).status == "failed"
    assert jobs.create_job(settings, "trainer-b", epochs=1).started_by == "trainer-b"


def _race(url: str, names) -> list:
    import threading

    from servicecenter import leases

    barrier = threading.Barrier(len(names))
    won = []

    def contend(name: str) -> None:
        barrier.wait()
        if leases.acquire("race", name, 60, url):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won


def test_of_several_threads_racing_for_a_lease_on_postgres_exactly_one_wins(pg_url):
    from servicecenter import leases

    won = _race(pg_url, [f"insert-{i}" for i in range(6)])  # no row yet: the INSERTs race
    assert len(won) == 1 and leases.current("race", pg_url).holder == won[0]
    assert leases.release("race", won[0], pg_url)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    assert leases.acquire("race", "crashed", 1, pg_url, now=past)
    won = _race(pg_url, [f"update-{i}" for i in range(6)])  # an expired row: the UPDATEs race
    assert len(won) == 1 and leases.current("race", pg_url).holder == won[0]
