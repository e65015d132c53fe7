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
