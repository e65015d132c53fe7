"""Quality figures computed from stored events: a generated month whose true values are known,
and the edge cases (handoff at midnight, a holiday, a repeat contact)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from servicecenter import PROJECT_ROOT
from servicecenter.db import get_engine
from servicecenter.reports.config import load_quality
from servicecenter.reports.drilldown import drill_down
from servicecenter.reports.figures import compute_figures
from servicecenter.reports.period import Period
from servicecenter.reports.sample_data import BERLIN, Writer, generate_month
from tests.conftest import migrated_sqlite

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"
LATER = dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def handbook(knowledge):
    return load_quality(KB_DIR, knowledge)


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "quality.db")


def figures(handbook, url: str, period: Period, now: dt.datetime = LATER):  # type: ignore[no-untyped-def]
    return compute_figures(period, handbook.repeat_contact_days, handbook.routing.calendar,
                           handbook.reply_within_service_hours, handbook.targets.takeover_within_seconds,
                           url=url, now=now)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def test_generated_month_yields_exactly_the_true_figures(handbook, db):
    truth = generate_month(get_engine(db), "2026-11", 600, handbook.routing.calendar, seed=11)
    f = figures(handbook, db, Period.month("2026-11"))
    assert f["contacts"]["total"] == truth.total
    assert f["contacts"]["by_channel"] == dict(sorted(truth.contacts.items()))
    assert f["contacts"]["by_day"] == {d: dict(sorted(c.items())) for d, c in sorted(truth.by_day.items())}
    assert sum(f["contacts"]["by_hour"].values()) == truth.total
    fcr = f["first_contact_resolution"]
    assert (fcr["resolved"], fcr["repeated"], fcr["answered"]) == (truth.resolved, truth.repeated, truth.answered)
    assert fcr["share"] == round(truth.resolved / truth.total, 4)
    assert f["handoff"]["handoffs"] == truth.handoffs
    assert f["handoff"]["by_reason"] == dict(truth.handoff_reason)
    assert f["handoff"]["by_department"] == dict(truth.handoff_department)
    assert (f["fallback"]["turns"], f["fallback"]["fallback_turns"]) == (truth.turns, truth.fallback_turns)
    assert (f["takeover"]["live_handoffs"], f["takeover"]["within_limit"]) == (truth.live, truth.live_in_time)
    promise = f["reply_promise"]
    assert (promise["total"], promise["in_time"]) == (truth.forwarded, truth.forwarded_in_time)
    sat = f["satisfaction"]
    assert (sat["up"], sat["down"]) == (truth.feedback_up, truth.feedback_down)
    assert dict(map(tuple, f["top_services"])) == dict(truth.services.most_common(10))
    assert dict(map(tuple, f["top_unanswered"])) == dict(truth.unanswered.most_common(10))
    assert f["voice"]["seconds"] == pytest.approx(truth.voice_seconds, abs=0.2)


def test_figures_contain_no_message_text_or_contact_data(handbook, db):
    generate_month(get_engine(db), "2026-11", 200, handbook.routing.calendar, seed=3)
    text = json.dumps(figures(handbook, db, Period.month("2026-11")), ensure_ascii=False)
    for private in ("Beispielfrage", "Beispielantwort", "Beispielkommentar", "+49", "Beispiel\""):
        assert private not in text


def _contact(w: Writer, sender: str, start: dt.datetime, service: str, channel: str = "socketio",
             outcome: str = "answer") -> float:
    ts = start.timestamp()
    w.session(sender, ts - 1)
    w.turn(sender, ts, channel, "svc_" + service.replace("-", "_"), outcome, service)
    return ts


def test_repeat_contact_on_the_same_service_within_the_window_is_not_first_contact_resolution(handbook, db):
    w = Writer(get_engine(db))
    same, other, late = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    _contact(w, same, local(2026, 11, 3, 10), "reisepass")
    _contact(w, same, local(2026, 11, 5, 9), "reisepass")  # back two days later, same service
    _contact(w, other, local(2026, 11, 3, 10), "reisepass")
    _contact(w, other, local(2026, 11, 4, 10), "hundesteuer")  # back, but about something else
    _contact(w, late, local(2026, 11, 3, 10), "reisepass")
    _contact(w, late, local(2026, 11, 11, 10), "reisepass")  # eight days later: outside the 7-day window
    w.flush(force=True)
    fcr = figures(handbook, db, Period.month("2026-11"))["first_contact_resolution"]
    assert (fcr["contacts"], fcr["resolved"], fcr["repeated"]) == (6, 5, 1)
    repeated, total = drill_down(Period.month("2026-11"), 7, "repeated", url=db)
    assert total == 1 and repeated[0].conversation_id == same
    assert repeated[0].start == local(2026, 11, 3, 10).timestamp()


def test_handoff_at_midnight_counts_on_its_day_and_its_wait_crosses_midnight(handbook, db):
    w = Writer(get_engine(db))
    sender = uuid.uuid4().hex
    created = local(2026, 11, 30, 23, 59, 45)
    ts = created.timestamp()
    w.session(sender, ts - 1)
    w.turn(sender, ts, "socketio", "human", "handoff", "reisepass", reason="human", department="zentrale")
    w.ticket(sender, created, "live", "human", "zentrale", "chat", "reisepass", claimed_after=25)  # 00:00:10
    after = uuid.uuid4().hex
    _contact(w, after, local(2026, 12, 1, 0, 0, 1), "reisepass")
    w.flush(force=True)
    nov = figures(handbook, db, Period.month("2026-11"))
    assert nov["contacts"]["by_day"] == {"2026-11-30": {"chat": 1}}
    assert nov["contacts"]["by_hour"]["23"] == 1
    assert nov["takeover"] == {"live_handoffs": 1, "taken": 1, "within_limit": 1, "limit_seconds": 30,
                               "share": 1.0, "median_seconds": 25.0}
    assert drill_down(Period.month("2026-11"), 7, "takeover_late", url=db)[1] == 0
    assert [c.conversation_id for c in drill_down(Period.month("2026-11"), 7, "takeover", url=db)[0]] == [sender]
    dec = figures(handbook, db, Period.month("2026-12"))
    assert dec["takeover"]["live_handoffs"] == 0 and dec["contacts"]["total"] == 1


def test_reply_promise_skips_holidays_and_weekends(handbook, db):
    calendar = handbook.routing.calendar
    assert calendar.holiday_name(dt.date(2026, 12, 25))  # 1. Weihnachtstag, a Friday
    w = Writer(get_engine(db))
    created = local(2026, 12, 23, 16)  # Wednesday 16:00: 1 h + Thu 9 h + Mon 9 h + Tue 5 h = 24 h
    assert calendar.add_service_hours(created, 24) == local(2026, 12, 29, 13)
    in_time, late = uuid.uuid4().hex, uuid.uuid4().hex
    for sender, answered in ((in_time, local(2026, 12, 29, 12, 30)), (late, local(2026, 12, 29, 13, 30))):
        _contact(w, sender, created, "hundesteuer", outcome="handoff")
        w.ticket(sender, created, "ticket", "case_status", "steueramt", "chat", "hundesteuer",
                 answered_after=answered - created)
    w.flush(force=True)
    promise = figures(handbook, db, Period.month("2026-12"))["reply_promise"]
    assert (promise["forwarded"]["total"], promise["forwarded"]["in_time"]) == (2, 1)
    found, total = drill_down(Period.month("2026-12"), 7, "reply_late", url=db, calendar=calendar, now=LATER)
    assert total == 1 and found[0].conversation_id == late


def test_open_request_still_within_the_promise_is_pending_not_late(handbook, db):
    w = Writer(get_engine(db))
    sender = uuid.uuid4().hex
    created = local(2026, 11, 23, 9)
    w.ticket(sender, created, "ticket", "case_status", "steueramt", "chat", "hundesteuer")
    w.flush(force=True)
    soon = created + dt.timedelta(hours=3)
    promise = figures(handbook, db, Period.month("2026-11"), now=soon)["reply_promise"]
    assert promise["forwarded"] == {"total": 0, "in_time": 0, "pending": 1}
    promise = figures(handbook, db, Period.month("2026-11"), now=created + dt.timedelta(days=10))["reply_promise"]
    assert promise["forwarded"] == {"total": 1, "in_time": 0, "pending": 0}


def test_greetings_alone_are_no_contact_and_latest_rating_counts(handbook, db):
    w = Writer(get_engine(db))
    hello, rated = uuid.uuid4().hex, uuid.uuid4().hex
    ts = local(2026, 11, 10, 9).timestamp()
    w.session(hello, ts - 1)
    w.turn(hello, ts, "socketio", "greet", "smalltalk")
    _contact(w, rated, local(2026, 11, 10, 9), "reisepass")
    w.rating(rated, "down", local(2026, 11, 10, 9, 5))
    w.rating(rated, "up", local(2026, 11, 10, 9, 6))
    w.flush(force=True)
    f = figures(handbook, db, Period.month("2026-11"))
    assert f["contacts"]["total"] == 1
    assert f["satisfaction"] == {"ratings": 2, "rated_conversations": 1, "up": 1, "down": 0,
                                 "with_comment": 0, "share": 1.0}


def test_unknown_drill_down_figure_is_refused(db):
    with pytest.raises(ValueError, match="unknown figure"):
        drill_down(Period.month("2026-11"), 7, "passwords", url=db)
