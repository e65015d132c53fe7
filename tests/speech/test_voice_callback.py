"""The phone's callback request: the caller's number from the From header, typed digits."""

from __future__ import annotations

import pytest

from servicecenter.voice.callback import DigitCollector, caller_number, contact, offer_prompt, spoken_number


@pytest.mark.parametrize("uri,number", [
    ('"Buerger" <sip:02831123456@pbx.example>', "+492831123456"),
    ("<sip:+492831123456@10.0.0.1:5060;user=phone>", "+492831123456"),
    ("<sip:anonymous@anonymous.invalid>", None),  # withheld number: the caller must type one
    ("<sip:12@pbx>", None),
    ("", None),
])
def test_the_callback_number_comes_from_the_from_header_only_when_it_is_a_phone_number(uri, number):
    assert caller_number(uri) == number


def test_numbers_are_read_out_digit_by_digit_in_national_form():
    assert spoken_number("+492831123456") == "null zwei acht drei eins eins zwei drei vier fünf sechs"
    assert "null zwei acht drei eins" in offer_prompt("+492831123456")
    assert "Rautetaste" in offer_prompt(None) and "Eins" not in offer_prompt(None)


def test_one_confirms_and_digits_end_with_the_hash_key():
    confirm = DigitCollector()
    assert confirm.add("1") and confirm.result == "confirm"
    typed = DigitCollector()
    assert [typed.add(k) for k in "02831*98765#"][-1] is True
    assert typed.result == "0283198765"  # '*' is ignored
    long_input = DigitCollector()
    for _ in range(50):
        long_input.add("9")
    assert len(long_input.keys) == 20


def test_stored_contact_has_the_web_forms_fields_and_no_name():
    stored = contact("+492831123456")
    assert stored["phone"] == "+492831123456" and stored["name"] is None and stored["source"] == "phone"


class _NoRecogniser:
    """Stand-in for the Vosk engine: storing a callback number hears no audio."""

    def session(self):  # noqa: D102
        return None


def _voice_ticket(url: str, department: str):
    import datetime as dt
    import uuid

    from servicecenter.handoff import tickets

    return tickets.create_ticket(
        idempotency_key=uuid.uuid4().hex, conversation_id=uuid.uuid4().hex, reason="human",
        department_slug=department, channel="voice", service_slug="reisepass",
        summary={"topic": "Reisepass beantragen", "service": "reisepass", "reason": "Wunsch nach einem Menschen",
                 "department": department, "channel": "Telefon"},
        due_at=dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc), url=url)


def test_a_callback_number_confirmed_on_the_phone_is_mailed_to_the_competent_department(session_db):
    import asyncio

    from servicecenter.handoff.notifications import Outbox, notifications_for
    from servicecenter.settings import Settings
    from servicecenter.voice.__main__ import callback_email
    from servicecenter.voice.call import CallSession, VoiceServices
    from servicecenter.voice.routes import Knowledge
    from tests.conftest import MailSink

    sink = MailSink().start()
    try:
        settings = Settings(database_url=session_db, smtp_host="127.0.0.1", smtp_port=sink.port)
        address = callback_email(Knowledge(settings.knowledge_dir))
        services = VoiceServices(stt=_NoRecogniser(), tts=None, dialogue=None, routes=None,  # type: ignore[arg-type]
                                 db_url=session_db, callback_email=address)

        async def store(ticket_id: str, department: str) -> bool:  # a call lives on the event loop
            call = CallSession(f"call-{ticket_id}", control=None, services=services)  # type: ignore[arg-type]
            return await call._store_callback(ticket_id, department, "+492831123456")

        ticket = _voice_ticket(session_db, "buergerbuero")
        assert asyncio.run(store(ticket.id, "buergerbuero"))
        assert Outbox(settings).run_once() >= 1
        reference = ticket.id.split("-")[0].upper()
        recipients, message = sink.wait_for(
            lambda rcpt, msg: reference in str(msg["Subject"]) and "Rückrufbitte" in str(msg["Subject"]))
        assert recipients == [address("buergerbuero")] and "@" in recipients[0]
        assert "+492831123456" in message.get_content().replace(" ", "")

        # The ServiceCenter's own queue sees callbacks in its inbox: no mail for it.
        own = _voice_ticket(session_db, "zentrale")
        assert asyncio.run(store(own.id, "zentrale"))
        assert notifications_for(own.id, url=session_db) == []
    finally:
        sink.stop()
