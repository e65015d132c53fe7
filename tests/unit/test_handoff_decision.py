"""The live-versus-ticket policy of a handoff, from plain values."""

from __future__ import annotations

import pytest

from servicecenter.dialogue import DEFAULT_HANDOFF_TARGET
from servicecenter.handoff.decision import QUEUE_REASONS, decide_handoff
from servicecenter.handoff.live import LIVE, TICKET


def decide(reason="human", channel="chat", named=False, answered=True, open_=True):
    return decide_handoff(reason, "buergerbuero", channel, department_named=named,
                          answered_by_servicecenter=answered, servicecenter_open=open_)


@pytest.mark.parametrize("reason", sorted(QUEUE_REASONS))
def test_a_wish_for_a_person_goes_to_the_servicecenter_queue_in_core_hours(reason):
    decision = decide(reason)
    assert (decision.mode, decision.owner, decision.live) == (LIVE, DEFAULT_HANDOFF_TARGET, True)
    assert not decision.notifies_department and not decision.queue_closed


def test_outside_core_hours_the_department_gets_a_ticket_and_a_mail():
    decision = decide(open_=False)
    assert (decision.mode, decision.owner) == (TICKET, "buergerbuero")
    assert decision.queue_closed and decision.notifies_department


@pytest.mark.parametrize("change", [
    {"reason": "complaint"}, {"reason": "case_status"}, {"named": True}, {"answered": False},
])
def test_complaints_own_cases_named_departments_and_other_services_become_department_tickets(change):
    decision = decide(**change)
    assert (decision.mode, decision.owner) == (TICKET, "buergerbuero")
    assert not decision.queue_closed and decision.notifies_department


def test_on_the_phone_every_target_is_transferred_live_in_core_hours():
    decision = decide(reason="complaint", channel="voice")
    assert (decision.mode, decision.owner) == (LIVE, "buergerbuero")
    assert not decision.notifies_department
    assert decide(reason="complaint", channel="voice", open_=False).mode == TICKET


def test_a_ticket_of_the_servicecenter_itself_is_not_mailed():
    decision = decide_handoff("complaint", DEFAULT_HANDOFF_TARGET, "chat", department_named=False,
                              answered_by_servicecenter=True, servicecenter_open=True)
    assert decision.mode == TICKET and not decision.notifies_department
