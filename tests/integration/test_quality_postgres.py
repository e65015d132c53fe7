"""The quality module on PostgreSQL: figures from stored events (JSON extraction in SQL),
feedback, report, erase and purge.

Needs a server: set ASSISTANT_TEST_POSTGRES_URL (scripts/start-postgres.sh); skipped otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from servicecenter import PROJECT_ROOT
from servicecenter.db import get_engine
from servicecenter.handoff import tickets
from servicecenter.reports.config import load_quality
from servicecenter.reports.drilldown import drill_down
from servicecenter.reports.feedback import FeedbackRejected, record_feedback
from servicecenter.reports.figures import compute_figures
from servicecenter.reports.period import Period
from servicecenter.reports.report import write_report
from servicecenter.reports.retention import erase_conversation, purge, remaining_rows
from servicecenter.reports.sample_data import BERLIN, Writer, generate_month

# pg_url (tests/conftest.py): the emptied and migrated PostgreSQL test database.
pytestmark = pytest.mark.integration
LATER = dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def handbook(knowledge):
    return load_quality(PROJECT_ROOT / "knowledge" / "geldern", knowledge)


def test_generated_month_figures_on_postgres(pg_url, handbook):
    truth = generate_month(get_engine(pg_url), "2026-11", 300, handbook.routing.calendar, seed=21)
    f = compute_figures(Period.month("2026-11"), 7, handbook.routing.calendar, 24, 30, url=pg_url, now=LATER)
    assert f["contacts"]["total"] == truth.total
    assert f["contacts"]["by_channel"] == dict(sorted(truth.contacts.items()))
    assert (f["first_contact_resolution"]["resolved"], f["first_contact_resolution"]["repeated"]) == (
        truth.resolved, truth.repeated)
    assert f["handoff"]["by_reason"] == dict(truth.handoff_reason)
    assert f["fallback"]["fallback_turns"] == truth.fallback_turns
    assert dict(map(tuple, f["top_unanswered"])) == dict(truth.unanswered.most_common(10))
    assert (f["takeover"]["live_handoffs"], f["takeover"]["within_limit"]) == (truth.live, truth.live_in_time)
    assert (f["reply_promise"]["total"], f["reply_promise"]["in_time"]) == (truth.forwarded, truth.forwarded_in_time)
    assert f["voice"]["seconds"] == pytest.approx(truth.voice_seconds, abs=0.2)
    found, total = drill_down(Period.month("2026-11"), 7, "repeated", url=pg_url)
    assert total == truth.repeated == len(found)


def test_feedback_report_erase_and_purge_on_postgres(pg_url, handbook, tmp_path):
    w = Writer(get_engine(pg_url))
    sender, old = uuid.uuid4().hex, uuid.uuid4().hex
    for who, start in ((sender, dt.datetime(2026, 11, 4, 10, tzinfo=BERLIN)),
                       (old, dt.datetime(2026, 6, 4, 10, tzinfo=BERLIN))):
        w.session(who, start.timestamp() - 1)
        w.turn(who, start.timestamp(), "socketio", "svc_reisepass", "answer", "reisepass")
    w.flush(force=True)
    record_feedback(sender, "up", "Danke, sehr klar", url=pg_url)
    with pytest.raises(FeedbackRejected):
        record_feedback("0" * 32, "up", url=pg_url)
    ticket = tickets.create_ticket(idempotency_key=uuid.uuid4().hex, conversation_id=sender, reason="human",
                                   department_slug="zentrale", channel="chat", url=pg_url)
    tickets.transition(ticket.id, "claimed", "agent:anna", url=pg_url)

    files = write_report("2026-11", handbook, tmp_path, url=pg_url, now=LATER)
    assert files.pdf.stat().st_size > 10_000

    erase_conversation(sender, url=pg_url)
    assert all(n == 0 for n in remaining_rows(sender, url=pg_url).values())
    result = purge(handbook, url=pg_url, now=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    assert result.conversations == 1 and "2026-06" in result.months_kept
    assert all(n == 0 for n in remaining_rows(old, url=pg_url).values())
