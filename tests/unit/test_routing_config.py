"""routing.yml is validated against the knowledge base; errors name the field."""

import shutil

import pytest
import yaml

from servicecenter import PROJECT_ROOT
from servicecenter.handoff.routing import load_routing
from servicecenter.knowledge.loader import KnowledgeError

KB_DIR = PROJECT_ROOT / "knowledge" / "geldern"


def test_the_project_routing_is_valid(knowledge):
    routing = load_routing(KB_DIR, knowledge)
    assert routing.service_promise.reply_within_service_hours == 24
    assert routing.answered_by_servicecenter("reisepass", knowledge)  # stage 3: all
    assert routing.services_in_stage(1, knowledge) == sorted(
        ["rathaus-kontakt", "termin-buergerbuero", "gelbe-saecke", "abfallkalender", "wertstoffhof"]
    )
    assert not routing.calendar.intervals(__import__("datetime").date(2026, 12, 25))


@pytest.fixture()
def routing_copy(tmp_path):
    target = tmp_path / "geldern"
    shutil.copytree(KB_DIR, target)
    return target


def _edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize(
    "change,field",
    [
        (lambda d: d.update(takeover_stage=4), "takeover_stage"),
        (lambda d: d["core_hours"].update(mo=["8-17"]), "core_hours"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
        (lambda d: d["targets"].update(bauamt={"queue": "x"}), "targets.bauamt"),
        (lambda d: d["stages"][1].append("pizza"), "stages.1"),
        (lambda d: d["targets"]["standesamt"].update(sip_uri="tel:123"), "sip_uri"),
        (lambda d: d["targets"]["standesamt"].update(email="standesamt(at)geldern"), "email"),
        (lambda d: d.update(telephony={"queue_uri": "sip:queue@pbx"}), "telephony.queue_uri"),
        (lambda d: d.update(core_hours={}), "core_hours"),
        (lambda d: d.update(live_queue={"minutes_per_waiting_contact": 0}), "live_queue"),
    ],
)
def test_errors_name_the_field(routing_copy, knowledge, change, field):
    _edit(routing_copy / "routing.yml", change)
    with pytest.raises(KnowledgeError) as err:
        load_routing(routing_copy, knowledge)
    assert "routing.yml" in str(err.value) and field in str(err.value)


def _berlin(*args):
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    "moment,staffed",
    [
        (_berlin(2026, 11, 25, 8, 0), True),  # Wednesday, opening minute
        (_berlin(2026, 11, 25, 16, 59), True),
        (_berlin(2026, 11, 25, 17, 0), False),  # closing time is exclusive
        (_berlin(2026, 11, 27, 12, 29), True),  # Friday until 12:30
        (_berlin(2026, 11, 27, 12, 30), False),
        (_berlin(2026, 11, 28, 10, 0), False),  # Saturday
        (_berlin(2026, 12, 25, 10, 0), False),  # Christmas Day, a Friday
        (_berlin(2026, 6, 4, 10, 0), False),  # Corpus Christi, a Thursday: a holiday in NRW
    ],
)
def test_core_hours_decide_whether_the_agent_queue_is_staffed(knowledge, moment, staffed):
    assert load_routing(KB_DIR, knowledge).is_open(moment) is staffed


def test_next_opening_skips_the_christmas_holidays(knowledge):
    calendar = load_routing(KB_DIR, knowledge).calendar
    assert calendar.next_opening(_berlin(2026, 12, 24, 18, 0)) == _berlin(2026, 12, 28, 8, 0)
    assert calendar.next_opening(_berlin(2026, 11, 25, 9, 0)) == _berlin(2026, 11, 25, 9, 0)


def test_holidays_can_be_served_when_configured(routing_copy, knowledge):
    _edit(routing_copy / "routing.yml", lambda d: d["holidays"].update(observe=False))
    assert load_routing(routing_copy, knowledge).is_open(_berlin(2026, 12, 25, 10, 0))


def test_transfer_targets_and_department_mail(routing_copy, knowledge):
    def change(d):
        d["targets"]["standesamt"].update(sip_uri="sip:standesamt@pbx.example", email="standesamt@example.org")
        d["telephony"] = {"queue_uri": "sips:{queue}@pbx.example"}

    _edit(routing_copy / "routing.yml", change)
    routing = load_routing(routing_copy, knowledge)
    assert routing.transfer_uri("standesamt") == "sip:standesamt@pbx.example"
    assert routing.transfer_uri("zentrale") == "sips:servicecenter@pbx.example"
    assert routing.target_email("standesamt", knowledge) == "standesamt@example.org"
    # Without an override: the organisation's address from organisations.yml.
    assert routing.target_email("steueramt", knowledge) == knowledge.organisations["steueramt"].email
    assert routing.transfer_uri("unknown") is None
