"""The guard's own Presidio recognizers: street addresses, international phone numbers, and (with NER) names and places.

The small spaCy model misses many names that are not English, tags streets as people and cities as
people; these recognizers fill the gaps with patterns and gazetteers. Their scores sit just above the
spaCy recognizer's 0.85 so that, where both claim a span, the overlap resolution keeps theirs.
Tuned on the train half of `eval/pii.jsonl`.
"""

from __future__ import annotations

import re
from pathlib import Path

from presidio_analyzer import Pattern, PatternRecognizer

STREET_ADDRESS = "STREET_ADDRESS"

_STREET_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Square|Sq|Terrace|"
    "Close|Crescent|Highway|Hwy|Parkway|Pkwy|Row|Walk|Gardens|Grove|Mews"
)
_UNIT = r"(?:,?\s(?:Apt|Apartment|Suite|Unit|Flat|Floor)\.?\s?\d{1,5}[A-Za-z]?)?"
_CAPITALISED = r"[A-ZÀ-Ý][\w'’-]+"

STREET_PATTERNS = (
    # 221B Baker Street, Apt 4 / 12 Maple Cedar Ave
    Pattern("street_en", rf"\b\d{{1,5}}[A-Za-z]?\s(?:{_CAPITALISED}\s){{1,3}}(?:{_STREET_SUFFIXES})\b\.?{_UNIT}", 0.9),
    # 12 rue de la Paix / 8 avenue des Champs-Élysées
    Pattern(
        "street_fr",
        rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|cours)\s"
        rf"(?:(?:de|du|des|la|le|l'|d')\s?){{0,2}}{_CAPITALISED}(?:[\s-]{_CAPITALISED}){{0,3}}",
        0.9,
    ),
    # Hauptstraße 5a / Lindenallee 12
    Pattern(
        "street_de",
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer)\s\d{1,4}[a-z]?\b",
        0.9,
    ),
    # Calle Mayor 10 / Via Roma 3 / Avenida de la Constitución 109
    Pattern(
        "street_es_it_pt",
        rf"\b(?:Calle|Avenida|Avda\.|Plaza|Paseo|Carrer|Via|Viale|Piazza|Corso|Largo|Rua|Travessa)\s"
        rf"(?:(?:de|del|de\sla|la|dei|della|do|da|dos)\s)?{_CAPITALISED}(?:\s(?:(?:de|del|la)\s)?{_CAPITALISED}){{0,3}},?\s\d{{1,4}}\b",
        0.9,
    ),
)

# Numbers written with a country code (+44 20 7946 0958, 0049 89 123456) or in the North American
# form ((415) 555-0132, 415-555-0132); the digit count is checked afterwards.
PHONE_PATTERNS = (
    Pattern("phone_international", r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,5}\)?){2,6}(?!\w)", 0.75),
    Pattern("phone_north_american", r"(?<![\w+-])\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w-])", 0.6),
    Pattern("phone_national_trunk", r"(?<![\w+])0\d{1,4}[\s-]\d{3,4}[\s-]\d{3,4}(?![\w-])", 0.5),
)
_PHONE_DIGITS = range(8, 16)

TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madame|Mme|Monsieur|Herr|Frau|Señor|Señora|Sr|Sra)"
_SURNAME = rf"(?:(?:van\sder|van\sden|van|von|de|der|da|di|le|la|del|dos|Van\sder|Van|Von|De|Da|Di|Le|La|Del)\s)?{_CAPITALISED}"

_DATA = Path(__file__).with_name("data")


def _gazetteer(name: str) -> list[str]:
    """One entry a line; `#` starts a comment line."""
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


# Common given names across many languages. A name is tagged with what follows it when that is capitalised.
FIRST_NAMES = _gazetteer("first_names.txt")
# Cities and countries the small model tends to miss or to take for people (longest first, so
# "New York" wins over "York").
PLACES = sorted(_gazetteer("places.txt"), key=len, reverse=True)

PERSON_PATTERNS = (
    Pattern("titled_name", rf"\b{TITLES}\.?\s{_CAPITALISED}(?:\s{_SURNAME}){{0,2}}\b", 0.9),
    Pattern(
        "known_first_name",
        rf"\b(?:{'|'.join(FIRST_NAMES)})\b(?:\s{_SURNAME}(?!\s(?:{_STREET_SUFFIXES})\b)){{0,2}}",
        0.87,
    ),
)

LOCATION_PATTERNS = (Pattern("known_place", rf"\b(?:{'|'.join(re.escape(place) for place in PLACES)})\b", 0.86),)


class PhoneNumberPatternRecognizer(PatternRecognizer):
    """International and North American phone formats, kept when they hold 8 to 15 digits."""

    def validate_result(self, pattern_text: str) -> bool | None:
        return sum(character.isdigit() for character in pattern_text) in _PHONE_DIGITS


# Capitals carry meaning in these patterns (a street name, a given name): no IGNORECASE.
_CASE_SENSITIVE = re.DOTALL | re.MULTILINE


def street_address_recognizer() -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity=STREET_ADDRESS,
        name="street_address_recognizer",
        patterns=list(STREET_PATTERNS),
        global_regex_flags=_CASE_SENSITIVE,
    )


def phone_number_recognizer() -> PatternRecognizer:
    return PhoneNumberPatternRecognizer(
        supported_entity="PHONE_NUMBER",
        name="phone_number_pattern_recognizer",
        patterns=list(PHONE_PATTERNS),
        global_regex_flags=_CASE_SENSITIVE,
    )


def name_recognizers() -> list[PatternRecognizer]:
    """Names and places by gazetteer and title; they join the NER layer."""
    return [
        PatternRecognizer(
            supported_entity="PERSON",
            name="person_gazetteer_recognizer",
            patterns=list(PERSON_PATTERNS),
            global_regex_flags=_CASE_SENSITIVE,
        ),
        PatternRecognizer(
            supported_entity="LOCATION",
            name="location_gazetteer_recognizer",
            patterns=list(LOCATION_PATTERNS),
            global_regex_flags=_CASE_SENSITIVE,
        ),
    ]
