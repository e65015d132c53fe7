"""Everything that touches the database also runs on PostgreSQL.

Needs a server: `.ci/run` starts one with scripts/start-postgres.sh and sets
ASSISTANT_TEST_POSTGRES_URL; without it the test is skipped and says so.
"""

import os

import pytest
from sqlalchemy import inspect, select, text

from servicecenter.db import get_engine, session_scope
from servicecenter.handoff.requests import record_handoff
from servicecenter.knowledge.repository import KnowledgeRepository
from servicecenter.knowledge.store import import_knowledge, read_knowledge
from servicecenter.models import Ticket
from servicecenter.training import upgrade_database

URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not URL, reason="no PostgreSQL: set ASSISTANT_TEST_POSTGRES_URL (scripts/start-postgres.sh)"),
]


@pytest.fixture()
def pg_url():
    engine = get_engine(URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade_database(URL)
    return URL


def test_migrations_create_the_tables_on_postgres(pg_url):
    tables = set(inspect(get_engine(pg_url)).get_table_names())
    assert {"kb_services", "kb_organisations", "kb_service_fees", "tickets", "ticket_events", "alembic_version"} <= tables


def test_knowledge_import_and_read_back_on_postgres(pg_url, knowledge):
    with session_scope(pg_url) as session:
        import_knowledge(session, knowledge)
    with session_scope(pg_url) as session:
        back = read_knowledge(session, knowledge.catalogue)
    assert back.services["hundesteuer"] == knowledge.services["hundesteuer"]
    assert KnowledgeRepository(pg_url).get().services["reisepass"].fees[0].amount_eur == 70.0


def test_handoff_tickets_are_stored_on_postgres(pg_url):
    request_id = record_handoff("f" * 32, "case_status", "bauordnung", "chat", "bauantrag", url=pg_url).id
    with session_scope(pg_url) as session:
        row = session.execute(select(Ticket).where(Ticket.id == request_id)).scalar_one()
    assert (row.department_slug, row.service_slug) == ("bauordnung", "bauantrag")
