"""Fixed prompts of the telephone (German, short, spoken); synthesised once and cached."""

GREETING = (
    "Guten Tag, hier ist der automatische Sprachassistent der Stadt Geldern. "
    "Sie sprechen mit einem Computer. Nennen Sie bitte keine persönlichen Daten. "
    "Wie kann ich helfen? Für eine Mitarbeiterin oder einen Mitarbeiter drücken Sie die Null."
)
STILL_THERE = "Sind Sie noch da?"
GOODBYE_SILENT = "Ich höre Sie leider nicht. Rufen Sie gern noch einmal an. Auf Wiederhören."
NOT_UNDERSTOOD = "Entschuldigung, das habe ich nicht verstanden. Sagen Sie es bitte noch einmal."
ONE_MOMENT = "Einen Moment bitte."
TRANSFERRING = "Ich verbinde Sie jetzt. Einen Moment bitte."
TRANSFER_FAILED = (
    "Die Weiterleitung hat leider nicht geklappt. Ihr Anliegen ist vermerkt; "
    "wir melden uns bei Ihnen. Auf Wiederhören."
)
TECHNICAL_PROBLEM = (
    "Entschuldigung, ich habe gerade ein technisches Problem. Bitte rufen Sie später noch einmal an. "
    "Auf Wiederhören."
)
TECHNICAL_TRANSFER = (
    "Entschuldigung, ich habe gerade ein technisches Problem. Ich verbinde Sie mit dem ServiceCenter."
)
MAX_DURATION = "Die maximale Gesprächsdauer ist erreicht. Vielen Dank für Ihren Anruf. Auf Wiederhören."

NO_CALLBACK = "In Ordnung, dann ohne Rückruf. Ihr Anliegen ist vermerkt. Haben Sie noch eine Frage?"
CALLBACK_NOT_STORED = (
    "Ihre Nummer konnte ich gerade leider nicht speichern. Ihr Anliegen ist aber vermerkt."
)

# The one-key rating (quality.yml feedback.voice_dtmf_rating), offered once when the caller
# is silent after an answer; see servicecenter/voice/rating.py.
RATING_OFFER = (
    "War meine Auskunft hilfreich? Dann drücken Sie bitte die Eins, sonst die Zwei. "
    "Oder stellen Sie einfach Ihre nächste Frage."
)
RATING_THANKS = "Vielen Dank für Ihre Bewertung."
GOODBYE = "Vielen Dank für Ihren Anruf. Auf Wiederhören."

# What a caller asks for by pressing 0: the same request as saying "Mitarbeiter".
HUMAN_REQUEST = "/human"

# Names for the log (which prompt was played, never what the caller said).
NAMES = {
    GREETING: "greeting", STILL_THERE: "still-there", GOODBYE_SILENT: "goodbye-silent",
    NOT_UNDERSTOOD: "not-understood", ONE_MOMENT: "one-moment", TRANSFERRING: "transferring",
    TRANSFER_FAILED: "transfer-failed", TECHNICAL_PROBLEM: "technical-problem", MAX_DURATION: "max-duration",
    NO_CALLBACK: "no-callback", CALLBACK_NOT_STORED: "callback-not-stored",
    TECHNICAL_TRANSFER: "technical-transfer",
    RATING_OFFER: "rating-offer", RATING_THANKS: "rating-thanks", GOODBYE: "goodbye",
}
CACHED = tuple(NAMES)
