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
    ],
)
def test_errors_name_the_field(routing_copy, knowledge, change, field):
    _edit(routing_copy / "routing.yml", change)
    with pytest.raises(KnowledgeError) as err:
        load_routing(routing_copy, knowledge)
    assert "routing.yml" in str(err.value) and field in str(err.value)
