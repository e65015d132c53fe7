from servicecenter.knowledge.spoken import clock, euro, for_speech, phone, time_range


def test_amounts_are_spoken_in_euros_and_cents():
    assert euro(46) == "sechsundvierzig Euro"
    assert euro(27.6) == "siebenundzwanzig Euro sechzig"
    assert euro(0) == "kostenlos"


def test_times_and_ranges():
    assert clock(12, 30) == "zwölf Uhr dreißig"
    assert time_range("08:00", "17:00") == "acht bis siebzehn Uhr"


def test_phone_numbers_are_read_digit_by_digit():
    assert phone("02831 398-0") == "null zwei acht drei eins, drei neun acht, null"


def test_chat_text_becomes_speakable():
    text = for_speech("Die Gebühr beträgt 13 € (Quelle: [BfJ](https://www.bundesjustizamt.de)). Tel. 02831 398-0")
    assert "dreizehn Euro" in text
    assert "http" not in text and "[" not in text
    assert "null zwei acht drei eins" in text


def test_service_numbers_and_emergency_numbers_are_read_as_digits():
    assert "null acht null null" in for_speech("Hotline 0800 1747474")
    assert "eins eins zwei" in for_speech("Notruf 112")


def test_thousands_are_not_misread():
    assert "eintausend Euro" in for_speech("ein Bußgeld von bis zu 1.000 EUR")


def test_email_addresses_are_spelled_for_the_ear():
    assert "wahl at geldern Punkt de" in for_speech("per E-Mail an wahl@geldern.de")


def test_weekday_abbreviations_are_spoken():
    text = for_speech("Mo–Do 8-17 Uhr, Fr 8-12:30 Uhr")
    assert text.startswith("montags bis donnerstags acht bis siebzehn Uhr")
    assert "freitags acht Uhr bis zwölf Uhr dreißig" in text
