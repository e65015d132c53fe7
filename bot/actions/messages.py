"""What the citizen reads or hears when a request is handed over (German copy of the actions).

Whole answers are responses of the domain (``bot/domain/responses.yml``); these are the parts
an action fills into them (``next_step`` of ``utter_handoff``) and the few messages that
depend on the live queue.
"""

from __future__ import annotations

from typing import Optional

WITH_AGENT = "Eine Mitarbeiterin oder ein Mitarbeiter des ServiceCenters ist schon für Sie da."
CONNECTING = "Ich verbinde Sie jetzt mit einer Mitarbeiterin oder einem Mitarbeiter des ServiceCenters."
RECORDED = "Ihr Anliegen ist vermerkt."
NOT_RECORDED = "Ich konnte Ihr Anliegen gerade nicht vermerken; bitte melden Sie sich direkt."
CALLBACK_OFFER = " Wenn Sie möchten, rufen wir Sie zurück:"
CALLBACK_INSTEAD_OF_WAITING = " Wenn Sie nicht warten möchten, rufen wir Sie zurück:"


def minutes(value: int) -> str:
    return "eine Minute" if value == 1 else f"{value} Minuten"


def callback_link(url: str, offer: str = CALLBACK_OFFER) -> str:
    """The chat's Markdown link to the callback form, after ``offer``."""
    return f"{offer} [Rückruf anfordern]({url})."


def already_waiting(position: int, waiting_minutes: int) -> str:
    return (
        f"Sie sind bereits in der Warteschlange, an Position {position}. "
        f"Die Wartezeit beträgt voraussichtlich etwa {minutes(waiting_minutes)}."
    )


def live_in_chat(position: int, waiting_minutes: int) -> str:
    return (
        "Eine Mitarbeiterin oder ein Mitarbeiter des ServiceCenters übernimmt dieses Gespräch "
        f"gleich hier im Chat. Sie sind an Position {position}; die Wartezeit beträgt "
        f"voraussichtlich etwa {minutes(waiting_minutes)}. Bis dahin können Sie mir weiter "
        "Fragen stellen."
    )


def servicecenter_closed(opens: Optional[str]) -> str:
    """``opens``: when the ServiceCenter is staffed again (German date), if known."""
    return "Das ServiceCenter ist gerade nicht besetzt" + (
        f"; es ist ab {opens} wieder für Sie da. " if opens else ". "
    )


def recorded_as(reference: str) -> str:
    return f"Ihr Anliegen ist unter der Nummer {reference} vermerkt."


def reply_by(due: str) -> str:
    return f" Wir melden uns dann spätestens bis {due}."


def accusative(name: str) -> str:
    """'der Kreis Kleve' -> 'den Kreis Kleve' (after 'an'); 'das'/'die' stay."""
    return "den " + name[4:] if name.startswith("der ") else name
