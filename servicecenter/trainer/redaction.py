"""Remove personal data from citizens' messages before anyone sees or stores them.

Detected and replaced by a placeholder:

====================  ==============  ==========================================================
what                  placeholder     how
====================  ==============  ==========================================================
names                 [NAME]          spaCy ``Matcher``: title-case words after "ich heiße",
                                      "mein Name ist", "Herr"/"Frau", greetings, "im Auftrag von",
                                      relatives ("meine Frau Anna"); lower-case words after
                                      "ich bin", "herr"/"frau" and relatives when they are no
                                      ordinary German word (lemma table, word endings)
phone numbers         [TELEFON]       ``phonenumbers.PhoneNumberMatcher`` (region DE), plus
                                      digit runs after "Telefon", "Handy", "erreichbar unter"
e-mail addresses      [E-MAIL]        ``EntityRuler`` (``LIKE_EMAIL``)
street addresses      [ADRESSE]       ``EntityRuler``: street name + house number (+ postcode
                                      and town), "Postfach 123"
IBANs                 [IBAN]          regular expression with the ISO 13616 check digits
dates                 [DATUM]         ``EntityRuler``: full dates with a year (12.03.1985,
                                      12. März 1985, 1985-03-12); ``Matcher``: "geboren am ..."
file numbers          [AKTENZEICHEN]  ``Matcher``: digits after Aktenzeichen, Kassenzeichen,
                                      Steuernummer, Steuer-ID, Vorgangs-/Kunden-/Ausweisnummer
====================  ==============  ==========================================================

The pipeline is the project's German spaCy pipeline (``models/spacy/de_geldern``, built by
``assistant spacy build``); when it is missing a blank German pipeline with the same
tokenizer is used. Detection errs on the side of removing too much: a trainer can live
with a lost street name, not with a leaked one.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from servicecenter.text import MONTH_WORDS

log = logging.getLogger(__name__)

NAME = "NAME"
PHONE = "TELEFON"
EMAIL = "E-MAIL"
ADDRESS = "ADRESSE"
IBAN = "IBAN"
DATE = "DATUM"
FILE_NUMBER = "AKTENZEICHEN"
LABELS = (NAME, PHONE, EMAIL, ADDRESS, IBAN, DATE, FILE_NUMBER)
# Which label wins when two findings overlap (higher first).
PRIORITY = {IBAN: 7, EMAIL: 6, FILE_NUMBER: 5, DATE: 4, PHONE: 3, ADDRESS: 2, NAME: 1}
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(re.escape(label) for label in LABELS) + r")\]")

MONTHS = sorted(MONTH_WORDS)
STREET_SUFFIX = (
    r"(?:straße|strasse|str\.?|weg|platz|allee|gasse|ring|damm|ufer|wall|markt|steg|pfad|chaussee|"
    r"graben|stiege|zeile|hof|berg|feld|kamp|heide|acker|anger|garten|tor|brücke|bruch|park|siedlung)"
)
STREET_WORD = re.compile(rf"^[A-ZÄÖÜ][\w\-äöüß]*{STREET_SUFFIX}$")
STREET_SINGLE = re.compile(r"^(?:Straße|Strasse|Str\.?|Weg|Platz|Allee|Gasse|Ring|Damm|Ufer|Wall|Markt|Tor)$")
HOUSE_NUMBER = r"^\d{1,4}(?:[a-zA-Z]|-\d{1,4})?\.?$"

# The word lists live in data/redaction/*.txt (one entry a line; a trigger's words separated by
# spaces; "#" starts a comment line), read once at import.
_DATA = "data/redaction"


def _lines(name: str) -> List[str]:
    text = resources.files("servicecenter.trainer").joinpath(f"{_DATA}/{name}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _sequences(name: str) -> List[List[str]]:
    return [line.split() for line in _lines(name)]


def _relatives() -> Dict[str, List[str]]:
    relatives: Dict[str, List[str]] = {}
    for possessive, noun in _sequences("relatives"):
        relatives.setdefault(possessive, []).append(noun)
    return relatives


NOT_HOUSE = set(_lines("not_house_words"))
NAME_TRIGGERS = _sequences("name_triggers")
POSSESSIVES = set(_lines("possessives"))
NOT_NAMES = set(_lines("not_names"))
RELATIVES = _relatives()
RELATIVE_TRIGGERS = [[possessive, noun] for possessive, nouns in RELATIVES.items() for noun in nouns]
NAME_TRIGGERS += [t for t in RELATIVE_TRIGGERS if t not in NAME_TRIGGERS]
# Lower-case chat ("ich bin anna schmitz", "herr schulz", "mein mann peter"): the next words are a
# name only when they pass ``Redactor.plausible_name`` (no verb form, adjective or status word).
GUESS_TRIGGERS = _sequences("guess_triggers") + RELATIVE_TRIGGERS
NAME_GUESS = "NAME_GUESS"
NOT_GUESSED = set(_lines("not_guessed"))
NOT_GUESSED_ENDINGS = tuple(_lines("not_guessed_endings"))
OFFICE_ENDINGS = tuple(_lines("office_endings"))
EN_NAMES = set(_lines("en_names"))
VERB_PREFIXES = tuple(_lines("verb_prefixes"))
STRONG_NAME_TRIGGERS = _sequences("strong_name_triggers")
NAME_LOOSE = "NAME_LOOSE"
TITLES = set(_lines("titles"))
NAME_PARTICLES = set(_lines("name_particles"))
FILE_TRIGGERS = _sequences("file_triggers")
PHONE_TRIGGERS = _sequences("phone_triggers")
DOB_TRIGGERS = _sequences("dob_triggers")
_WORD = re.compile(r"[a-zäöüß]+")


def domain_vocabulary(nlu_dir: Optional[Path] = None) -> frozenset:
    """Lower-case words of the assistant's NLU data (examples, service names and synonyms).

    They are the words citizens use for the town's services; none of them is taken for a
    guessed lower-case name ("mein kind kita platz" keeps "kita"). Names never reach the
    training data (examples are redacted before they are written), so this cannot whitelist one.
    """
    import yaml

    from servicecenter.trainer.nlu_writer import NLU_DIR, _examples_of, plain_text

    folder = nlu_dir or NLU_DIR
    words: set = set()
    for path in sorted(Path(folder).glob("*.yml")) if Path(folder).is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            log.warning("redaction: %s could not be read for the vocabulary", path.name)
            continue
        for item in data.get("nlu") or []:
            if isinstance(item, dict):
                for example in _examples_of(item.get("examples")):
                    words.update(_WORD.findall(plain_text(example).lower()))
    return frozenset(words)
IBAN_RE = re.compile(r"\b([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30})\b")
EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-zA-Z]{2,}")
POSTBOX_RE = re.compile(r"\bPostfach\s+\d[\d ]{1,10}\d\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Redacted:
    """The cleaned text and what was removed (labels and positions in the original text only)."""

    text: str
    findings: Tuple[Finding, ...]

    @property
    def labels(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for finding in self.findings:
            counts[finding.label] = counts.get(finding.label, 0) + 1
        return counts


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def _lower_seq(words: Sequence[str]) -> List[Dict[str, Any]]:
    return [{"LOWER": w} for w in words]


def _patterns_for_ruler() -> List[Dict[str, Any]]:
    months = {"IN": MONTHS + [m + "." for m in MONTHS]}
    day = {"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.$"}}
    year = {"TEXT": {"REGEX": r"^(19|20)\d{2}$"}}
    house = {"TEXT": {"REGEX": HOUSE_NUMBER}}
    postcode = {"TEXT": {"REGEX": r"^\d{5}$"}}
    town = {"IS_TITLE": True}
    street_word = {"TEXT": {"REGEX": STREET_WORD.pattern}}
    street_dot = {"TEXT": {"REGEX": r"^[A-ZÄÖÜ][\w\-äöüß]*(?:str|Str)$"}}
    street_single = {"TEXT": {"REGEX": STREET_SINGLE.pattern}}
    adjective = {"TEXT": {"REGEX": r"^[A-ZÄÖÜ][\wäöüß\-]*(?:er|e|es|en)?$"}}
    article = {"LOWER": {"IN": ["an", "am", "auf", "in", "im", "zum", "zur", "der", "den", "dem", "die", "alte", "alter", "alten", "neue", "neuer", "neuen", "st.", "sankt"]}}
    numeric_date = {"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.((19|20)?\d{2})$"}}
    iso_date = {"TEXT": {"REGEX": r"^(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"}}
    slash_date = {"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])/(0?[1-9]|1[0-2])/((19|20)\d{2})$"}}
    patterns: List[Dict[str, Any]] = [
        {"label": EMAIL, "pattern": [{"LIKE_EMAIL": True}]},
        {"label": DATE, "pattern": [{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])$"}}, {"ORTH": "/"},
                                    {"TEXT": {"REGEX": r"^(0?[1-9]|1[0-2])$"}}, {"ORTH": "/"}, year]},
        # Vehicle registration plates ("KLE-AB 123", "KLE AB 123E").
        {"label": FILE_NUMBER, "pattern": [{"TEXT": {"REGEX": r"^[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}$"}},
                                           {"TEXT": {"REGEX": r"^\d{1,4}[EH]?$"}}]},
        {"label": DATE, "pattern": [numeric_date]},
        {"label": DATE, "pattern": [iso_date]},
        {"label": DATE, "pattern": [slash_date]},
        {"label": DATE, "pattern": [day, {"LOWER": months}, year]},
        {"label": DATE, "pattern": [{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])$"}}, {"ORTH": "."},
                                    {"LOWER": months}, year]},
    ]
    tail_options: List[List[Dict[str, Any]]] = [
        [],
        [{"ORTH": ",", "OP": "?"}, postcode, town],
        [{"ORTH": ",", "OP": "?"}, postcode, town, {"TEXT": {"REGEX": r"^[A-ZÄÖÜ][\wäöüß\-]*$"}, "OP": "?"}],
    ]
    heads: List[List[Dict[str, Any]]] = [
        [street_word],
        [street_dot, {"ORTH": "."}],
        [adjective, street_single],
        [adjective, adjective, street_single],
        [article, adjective, street_word],
        [article, adjective],
        [article, article, adjective],
        [adjective, {"TEXT": {"REGEX": r"^[A-ZÄÖÜ][\wäöüß\-]*$"}}, street_word],
    ]
    for head in heads:
        for tail in tail_options:
            patterns.append({"label": ADDRESS, "pattern": head + [house] + tail})
    patterns.append({"label": ADDRESS, "pattern": [street_word, {"ORTH": ","}, postcode, town]})
    return patterns


class Redactor:
    """spaCy + phonenumbers based redaction; build once per process (loading takes a second)."""

    def __init__(self, model_dir: Optional[Path] = None, vocabulary_dir: Optional[Path] = None) -> None:
        import spacy
        from spacy.matcher import Matcher

        nlp = None
        if model_dir is not None and (Path(model_dir) / "config.cfg").exists():
            nlp = spacy.load(model_dir)
        if nlp is None:
            log.warning("redaction: spaCy pipeline missing at %s, using a blank German pipeline", model_dir)
            nlp = spacy.blank("de")
        self.nlp = nlp
        ruler = nlp.add_pipe("entity_ruler", name="redaction_ruler", config={"overwrite_ents": True})
        ruler.add_patterns(_patterns_for_ruler())  # type: ignore[attr-defined]
        self.matcher = Matcher(nlp.vocab)
        name_token = {"TEXT": {"REGEX": r"^[A-ZÄÖÜ][a-zäöüßéèáàçñ]+(?:-[A-ZÄÖÜ][a-zäöüßéèáàçñ]+)?$"}}
        particle = {"LOWER": {"IN": sorted(NAME_PARTICLES)}, "OP": "*"}
        title = {"LOWER": {"IN": ["dr.", "dr", "prof.", "prof", "doktor", "professor", "med.", "med", "dipl.",
                                  "dipl.-ing.", "ing.", "rer.", "nat.", "jur.", "phil.", "."]}, "OP": "*"}
        for trigger in NAME_TRIGGERS:
            for tail in (
                [name_token],
                [name_token, name_token],
                [name_token, particle, name_token],
                [name_token, name_token, name_token],
            ):
                self.matcher.add(NAME, [_lower_seq(trigger) + [{"ORTH": {"IN": [",", ":"]}, "OP": "?"}, title]
                                        + tail])
        # Spoken or lower-case chat ("hier spricht günther schulz"): after a strong trigger the
        # next words up to the first function word are the name.
        stop_words = sorted(self.nlp.Defaults.stop_words | NOT_NAMES)
        loose = {"IS_ALPHA": True, "LOWER": {"NOT_IN": stop_words}}
        for trigger in STRONG_NAME_TRIGGERS:
            for tail in ([loose], [loose, loose], [loose, particle, loose]):
                self.matcher.add(NAME_LOOSE, [_lower_seq(trigger) + [{"ORTH": {"IN": [",", ":"]}, "OP": "?"}]
                                              + tail])
        for trigger in GUESS_TRIGGERS:
            for tail in ([loose], [loose, loose], [loose, particle, loose]):
                self.matcher.add(NAME_GUESS, [_lower_seq(trigger) + [{"ORTH": {"IN": [",", ":"]}, "OP": "?"}]
                                              + tail])
        self._lemmas = None
        if "lemmatizer" in nlp.pipe_names:
            try:
                self._lemmas = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
            except (KeyError, AttributeError):
                self._lemmas = None
        self._verb_lemmas = frozenset(
            str(v).lower() for v in (self._lemmas.values() if self._lemmas is not None else ())
            if isinstance(v, str) and v.endswith(("en", "ern", "eln"))
        )
        self._stop_words = frozenset(self.nlp.Defaults.stop_words)
        self._domain_words = domain_vocabulary(vocabulary_dir)
        file_part = {"TEXT": {"REGEX": r"^[A-Za-z0-9][\w./\-]*\d[\w./\-]*$|^\d+$"}}
        joiner = {"ORTH": {"IN": ["/", "-", ".", "–"]}, "OP": "?"}
        for trigger in FILE_TRIGGERS:
            prefix = _lower_seq(trigger) + [
                {"LOWER": {"IN": [":", ".", "nr", "nr.", "nummer", "lautet", "ist", "#", "-"]}, "OP": "*"},
            ]
            body = [file_part]
            for _ in range(5):
                body = body + [joiner, {**file_part, "OP": "?"}]
            self.matcher.add(FILE_NUMBER, [prefix + [file_part]])
            self.matcher.add(FILE_NUMBER, [prefix + body])
            # Letters-and-digits codes like "L01X00T47" or "KLE-AB 123".
            self.matcher.add(FILE_NUMBER, [prefix + [{"TEXT": {"REGEX": r"^[A-ZÄÖÜ]{1,3}$"}},
                                                     {"ORTH": "-", "OP": "?"},
                                                     {"TEXT": {"REGEX": r"^[A-ZÄÖÜ]{1,2}$"}, "OP": "?"},
                                                     {"TEXT": {"REGEX": r"^\d{1,4}[EH]?$"}}]])
        digits = {"TEXT": {"REGEX": r"^[+(]?\d[\d()/\-]*$"}}
        for trigger in PHONE_TRIGGERS:
            prefix = _lower_seq(trigger) + [{"LOWER": {"IN": [":", ".", "nr", "nr.", "ist", "lautet"]}, "OP": "*"}]
            self.matcher.add(PHONE, [prefix + [digits, {**digits, "OP": "?"}, {**digits, "OP": "?"},
                                               {**digits, "OP": "?"}]])
        for trigger in DOB_TRIGGERS:
            prefix = _lower_seq(trigger) + [{"LOWER": {"IN": [":", "am", "den", "ist", "der"]}, "OP": "*"}]
            self.matcher.add(DATE, [prefix + [{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.?$"}}]])
            self.matcher.add(DATE, [prefix + [{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.?$"}},
                                              {"LOWER": {"IN": MONTHS + [m + "." for m in MONTHS]}}]])
            self.matcher.add(DATE, [prefix + [{"TEXT": {"REGEX": r"^(19|20)\d{2}$"}}]])
        # "ist am 14.5. geboren": a day and month right before "geboren".
        self.matcher.add(DATE, [[{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.?$"}},
                                 {"LOWER": {"IN": ["geboren", "gebohren"]}}]])
        self.matcher.add(DATE, [[{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.?$"}},
                                 {"LOWER": {"IN": MONTHS}}, {"LOWER": {"IN": ["geboren", "gebohren"]}}]])
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ detection

    def inflected(self, word: str) -> bool:
        """An inflected form of an ordinary German word ("Blumen", "umgezogen", "braucht")."""
        if self._lemmas is None:
            return False
        return any(form in self._lemmas for form in {word, word.lower(), word.capitalize()})

    def plausible_name(self, word: str) -> bool:
        """Whether a lower-case word after "ich bin", "herr"/"frau" or a relative can be a name."""
        lower = word.lower()
        if len(lower) < 2 or not lower.replace("-", "").isalpha():
            return False
        if lower in self._stop_words or lower in NOT_NAMES or lower in NOT_GUESSED or lower in MONTHS:
            return False
        if lower in self._domain_words:
            return False  # a word of the assistant's own training data ("kita", "pflegegrad")
        if lower.endswith(NOT_GUESSED_ENDINGS) or self.inflected(word):
            return False
        if lower.endswith(("en", "ern", "eln")) and lower not in EN_NAMES and (
                lower in self._verb_lemmas
                or any(lower.startswith(p) and len(lower) > len(p) + 3 for p in VERB_PREFIXES)):
            return False  # an infinitive ("brauchen", "mitkommen"), not "Jürgen" or "Steffen"
        return True

    @staticmethod
    def _trigger_length(span: Any, triggers: Sequence[Sequence[str]]) -> int:
        lowers = [t.lower_ for t in span]
        return max((len(tr) for tr in triggers if lowers[:len(tr)] == list(tr)), default=1)

    def _matcher_findings(self, doc: Any) -> Iterable[Finding]:
        strings = self.nlp.vocab.strings
        for match_id, start, end in self.matcher(doc):
            label = strings[match_id]
            span = doc[start:end]
            if label == NAME_LOOSE:
                words = [t for t in span if t.is_alpha]
                # The trigger words are the first ones; the rest (after them) is the name.
                trigger = next(tr for tr in STRONG_NAME_TRIGGERS if [t.lower_ for t in span[:len(tr)]] == tr)
                name_tokens = [t for t in span[len(trigger):] if t.is_alpha]
                if name_tokens and words:
                    yield Finding(NAME, name_tokens[0].idx, name_tokens[-1].idx + len(name_tokens[-1].text))
                continue
            if label == NAME_GUESS:
                size = self._trigger_length(span, GUESS_TRIGGERS)
                if span[0].lower_ in TITLES and span.start > 0 and doc[span.start - 1].lower_ in POSSESSIVES:
                    continue  # "meine frau hat", "eine frau sagte"
                name_tokens = []
                for token in span[size:]:
                    if token.is_punct:
                        if name_tokens:
                            break
                        continue
                    if token.lower_ in NAME_PARTICLES and name_tokens:
                        name_tokens.append(token)
                        continue
                    if not self.plausible_name(token.text):
                        break
                    name_tokens.append(token)
                while name_tokens and name_tokens[-1].lower_ in NAME_PARTICLES:
                    name_tokens.pop()
                if name_tokens:
                    yield Finding(NAME, name_tokens[0].idx, name_tokens[-1].idx + len(name_tokens[-1].text))
                continue
            if label == NAME:
                if span[0].lower_ in {"frau", "herr", "herrn"} and span.start > 0 \
                        and doc[span.start - 1].lower_ in POSSESSIVES:
                    continue
                size = self._trigger_length(span, NAME_TRIGGERS)
                tokens = list(span)[size:]  # the trigger words never belong to the name
                relative = [t.lower_ for t in span[:size]] in RELATIVE_TRIGGERS
                # Keep the trailing run of name words; drop the trigger words and punctuation.
                name_tokens: List[Any] = []
                for token in reversed(tokens):
                    if name_tokens and token.lower_ in NAME_PARTICLES:
                        name_tokens.insert(0, token)
                    elif token.lower_ in TITLES or token.lower_ in NOT_NAMES or not token.is_title:
                        break
                    elif relative and (self.inflected(token.text) or token.lower_ in NOT_GUESSED
                                       or token.lower_ in self._domain_words):
                        break  # "meine Frau Blumen pflanzen lassen": a noun, no name
                    else:
                        name_tokens.insert(0, token)
                while name_tokens and name_tokens[0].lower_ in NAME_PARTICLES:
                    name_tokens.pop(0)
                # "Herrn Becker vom Gesundheitsamt": an office after the particle is no part of the name.
                for i, token in enumerate(name_tokens):
                    if token.lower_ in NAME_PARTICLES and any(
                            t.lower_ not in NAME_PARTICLES and (t.lower_ in self._domain_words
                                                                or t.lower_.endswith(OFFICE_ENDINGS))
                            for t in name_tokens[i + 1:]):
                        name_tokens = name_tokens[:i]
                        break
                if not name_tokens:
                    continue
                yield Finding(NAME, name_tokens[0].idx, name_tokens[-1].idx + len(name_tokens[-1].text))
            else:
                first = next((t for t in span if any(ch.isdigit() for ch in t.text)), None)
                if label == FILE_NUMBER:
                    first = next((t for t in span if any(ch.isdigit() for ch in t.text)
                                  or (t.is_upper and t.lower_ not in {"az", "az.", "nr", "tan"}
                                      and t.i > span.start)), None)
                if first is None:
                    continue
                digit_tokens = [t for t in span if any(ch.isdigit() for ch in t.text)]
                last = span[-1] if label != DATE else digit_tokens[-1]
                if label == DATE and span[-1].is_alpha and span[-1].lower_ not in MONTHS:
                    last = digit_tokens[-1]
                elif label == DATE:
                    last = span[-1]
                end_char = last.idx + len(last.text)
                while end_char > first.idx and doc.text[end_char - 1] in ".-/,":
                    end_char -= 1
                yield Finding(label, first.idx, end_char)

    def _ruler_findings(self, doc: Any) -> Iterable[Finding]:
        for ent in doc.ents:
            if ent.label_ == ADDRESS:
                tokens = list(ent)
                # "Ring 3 Wochen": a number followed by a unit is no house number.
                after = doc[ent.end] if ent.end < len(doc) else None
                if after is not None and after.lower_ in NOT_HOUSE:
                    continue
                # "in der Bahnhofstraße 5": the preposition belongs to the sentence. "An der Kirche 5"
                # has no street word, so there the whole phrase is the street name.
                leading = {"an", "auf", "in", "im", "zum", "zur", "der", "den", "dem", "die"}
                while len(tokens) > 2 and tokens[0].lower_ in leading and any(
                    STREET_WORD.match(t.text) or STREET_SINGLE.match(t.text) for t in tokens[1:]
                ) and not (STREET_SINGLE.match(tokens[2].text) and len(tokens) > 1 and tokens[1].lower_ in leading):
                    if STREET_SINGLE.match(tokens[1].text):
                        break
                    tokens = tokens[1:]
                if not tokens:
                    continue
                end_char = tokens[-1].idx + len(tokens[-1].text)
                if doc.text[end_char - 1] == "." and tokens[-1].text[:-1].isdigit():
                    end_char -= 1  # "Kapuzinerstraße 7." ends the sentence
                yield Finding(ADDRESS, tokens[0].idx, end_char)
            else:
                yield Finding(ent.label_, ent.start_char, ent.end_char)

    @staticmethod
    def _regex_findings(text: str) -> Iterable[Finding]:
        for match in IBAN_RE.finditer(text):
            candidate = match.group(1).rstrip()
            # The greedy match may have swallowed a following word or number: shrink until valid.
            compact_end = match.start(1) + len(candidate)
            while compact_end > match.start(1) + 15:
                piece = text[match.start(1):compact_end].rstrip()
                if iban_valid(piece):
                    yield Finding(IBAN, match.start(1), match.start(1) + len(piece))
                    break
                compact_end -= 1
        for match in EMAIL_RE.finditer(text):
            yield Finding(EMAIL, match.start(), match.end())
        for match in POSTBOX_RE.finditer(text):
            yield Finding(ADDRESS, match.start(), match.end())

    @staticmethod
    def _phone_findings(text: str) -> Iterable[Finding]:
        import phonenumbers

        for match in phonenumbers.PhoneNumberMatcher(text, "DE"):
            yield Finding(PHONE, match.start, match.end)

    def find(self, text: str) -> List[Finding]:
        with self._lock:  # spaCy pipelines are not documented as thread-safe
            doc = self.nlp(text)
            found = list(self._regex_findings(text))
            found += list(self._ruler_findings(doc))
            found += list(self._matcher_findings(doc))
        found += list(self._phone_findings(text))
        return _resolve(found)

    def redact(self, text: str) -> Redacted:
        findings = self.find(text)
        out = []
        cursor = 0
        for finding in findings:
            out.append(text[cursor:finding.start])
            out.append(f"[{finding.label}]")
            cursor = finding.end
        out.append(text[cursor:])
        return Redacted("".join(out), tuple(findings))


def _resolve(findings: List[Finding]) -> List[Finding]:
    """Overlapping findings: the higher-priority, then longer one wins; adjacent same labels merge."""
    ordered = sorted(findings, key=lambda f: (-PRIORITY[f.label], -(f.end - f.start), f.start))
    chosen: List[Finding] = []
    for finding in ordered:
        clash = [c for c in chosen if c.start < finding.end and finding.start < c.end]
        if not clash:
            chosen.append(finding)
            continue
        # A lower-priority finding that covers more (a phone number longer than the digits a
        # file-number pattern caught) extends the winner rather than leaking the rest.
        for c in clash:
            if finding.start < c.start or finding.end > c.end:
                chosen.remove(c)
                chosen.append(Finding(c.label, min(c.start, finding.start), max(c.end, finding.end)))
    chosen.sort(key=lambda f: f.start)
    merged: List[Finding] = []
    for finding in chosen:
        if merged and merged[-1].end >= finding.start:
            prev = merged.pop()
            finding = Finding(prev.label, prev.start, max(prev.end, finding.end))
        merged.append(finding)
    return merged


_default: Optional[Redactor] = None
_default_lock = threading.Lock()


def default_redactor() -> Redactor:
    """The process-wide redactor on the configured spaCy pipeline."""
    global _default
    with _default_lock:
        if _default is None:
            from servicecenter.settings import get_settings

            _default = Redactor(get_settings().spacy_model_dir)
        return _default


def redact(text: str) -> Redacted:
    return default_redactor().redact(text)


def contains_placeholder(text: str) -> bool:
    return bool(PLACEHOLDER_RE.search(text))
