"""Everything that touches the database also runs on PostgreSQL.

Needs a server: `.ci/run` starts one with scripts/start-postgres.sh and sets
ASSISTANT_TEST_POSTGRES_URL; without it the test is skipped and says so.
"""


import pytest
from sqlalchemy import inspect, select

from servicecenter.db import get_engine, session_scope
from servicecenter.handoff.requests import record_handoff
from servicecenter.knowledge.repository import KnowledgeRepository
from servicecenter.knowledge.store import import_knowledge, read_knowledge
from servicecenter.models import Ticket

# pg_url (tests/conftest.py): the emptied and migrated PostgreSQL test database.
pytestmark = pytest.mark.integration


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
