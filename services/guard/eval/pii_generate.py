"""Writes `pii.jsonl`: synthetic sentences with labelled PII spans, for `evaluate_pii.py`.

Run: `python services/guard/eval/pii_generate.py`. Deterministic (fixed seed). Each row has `id`, `text`,
`spans` (`start`, `end`, `type`; code-point offsets) and `split` (`train` / `test`, alternating).
Types: PERSON, LOCATION (cities and countries), STREET_ADDRESS (number, street and suffix, in English,
French, German, Spanish and Italian forms; the city after it is a separate LOCATION), PHONE_NUMBER
(international and national formats of several countries), EMAIL_ADDRESS, CREDIT_CARD (Luhn-valid),
US_SSN, IBAN_CODE (valid check digits) and IP_ADDRESS (v4 and v6). All values are invented. Test rows
draw half their names and cities from held-out pools that no recognizer gazetteer lists.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUTPUT = Path(__file__).with_name("pii.jsonl")
ROWS = 600

FIRST_NAMES = [
    "Alice", "Bob", "Carlos", "Diana", "Ethan", "Fatima", "George", "Hannah", "Ivan", "Julia", "Kenji", "Laura",
    "Mohammed", "Nina", "Oliver", "Priya", "Quentin", "Rosa", "Samuel", "Tanya", "Umar", "Valentina", "William",
    "Xavier", "Yuki", "Zoe", "Amelia", "Benoit", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ingrid",
    "Jakob", "Keira", "Lars", "Mei", "Nikolai", "Olga", "Pablo", "Rahul", "Sofia", "Thomas", "Ursula", "Viktor",
    "Wen", "Yasmin", "Anika", "Bruno", "Camille", "Dario", "Esther", "Felix", "Giulia", "Hassan", "Isabel",
    "Jonas", "Kofi", "Leila", "Marco", "Noor", "Oscar", "Paula", "Rafael", "Sven", "Tariq", "Aisha", "Emeka",
]  # fmt: skip
LAST_NAMES = [
    "Martin", "Nguyen", "Garcia", "Smith", "Müller", "Rossi", "Kowalski", "Dubois", "Tanaka", "Okafor", "Patel",
    "Johansson", "Ivanova", "Fernández", "O'Brien", "Schmidt", "Silva", "Kim", "Haddad", "Novak", "Andersen",
    "Moreau", "Costa", "Yilmaz", "Wójcik", "Bianchi", "Hoffmann", "Larsen", "Mendes", "Chen", "Singh", "Cohen",
    "Becker", "Romano", "Lefebvre", "Horvat", "Nakamura", "Adeyemi", "Petrov", "Lindqvist", "Van der Berg",
    "Walsh", "Murphy", "Schulz", "Ortega", "Kaur", "Rahman", "Takahashi", "Dupont", "Fischer",
]  # fmt: skip
# Held-out pools: only test rows draw from them (half the time), and no recognizer gazetteer lists
# them, so the test half measures names and places the recognizers were not written for.
UNSEEN_FIRST_NAMES = ["Siobhan", "Thandiwe", "Bartholomew", "Oluwaseun", "Radek", "Zsofia", "Ngozi", "Tuomas",
                      "Eirik", "Bogdan", "Leocadia", "Anselm", "Cosima", "Dagny", "Evander", "Fiorella",
                      "Gwendolyn", "Hamza", "Ignacio", "Jolanta", "Kwame", "Ludmila", "Mateusz", "Nkechi"]  # fmt: skip
UNSEEN_LAST_NAMES = ["Okonkwo", "Vasquez", "Brennan", "Halvorsen", "Kuznetsov", "Mbeki", "Szabo", "Laine",
                     "Castellanos", "Dimitriou", "Eriksen", "Farouk"]  # fmt: skip
UNSEEN_CITIES = ["Leeds", "Ghent", "Bilbao", "Gdansk", "Tampere", "Graz", "Lille", "Bologna", "Utrecht", "Aarhus",
                 "Cork", "Malmö", "Salzburg", "Brno", "Kaunas", "Ljubljana", "Galway", "Bordeaux"]  # fmt: skip
TITLES = ["Mr", "Mrs", "Ms", "Dr", "Prof.", "Dr."]
CITIES = [
    "London", "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Amsterdam", "Vienna", "Prague", "Warsaw", "Dublin",
    "Stockholm", "Oslo", "Copenhagen", "Helsinki", "Athens", "Budapest", "Brussels", "Zurich", "Geneva", "Munich",
    "Hamburg", "Lyon", "Marseille", "Barcelona", "Seville", "Milan", "Naples", "Toronto", "Vancouver", "Chicago",
    "Boston", "Seattle", "San Francisco", "New York", "Austin", "Denver", "Sydney", "Melbourne", "Auckland",
    "Tokyo", "Osaka", "Seoul", "Singapore", "Mumbai", "Bangalore", "Nairobi", "Lagos", "Cape Town", "São Paulo",
    "Mexico City", "Buenos Aires", "Istanbul", "Dubai", "Manchester", "Edinburgh", "Rotterdam", "Krakow",
]  # fmt: skip
COUNTRIES = [
    "France", "Germany", "Spain", "Italy", "Portugal", "Ireland", "Canada", "Japan", "Brazil", "India", "Kenya",
    "Nigeria", "Australia", "Mexico", "Poland", "Sweden", "Norway", "Switzerland", "Austria", "Belgium",
]  # fmt: skip
STREET_WORDS = ["Baker", "Maple", "Oak", "High", "Church", "Park", "Victoria", "Elm", "Station", "Mill", "King",
                "Queen", "Green", "Cedar", "Lake", "Hill", "River", "Pine", "Market", "Bridge", "Willow", "Sunset"]  # fmt: skip
STREET_SUFFIXES = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Boulevard", "Way", "Court",
                   "Place", "Terrace", "Close", "Crescent", "Square"]  # fmt: skip
FR_STREETS = ["rue de Rivoli", "avenue Victor Hugo", "boulevard Saint-Germain", "rue de la Paix", "place Bellecour",
              "rue du Faubourg Saint-Honoré", "avenue des Champs-Élysées"]  # fmt: skip
DE_STREETS = ["Hauptstraße", "Bahnhofstraße", "Goethestraße", "Schillerweg", "Lindenallee", "Marktplatz", "Bergstrasse"]
ES_IT_STREETS = ["Calle Mayor", "Avenida de la Constitución", "Calle de Alcalá", "Via Roma", "Via Garibaldi",
                 "Piazza Navona", "Corso Vittorio Emanuele"]  # fmt: skip
EMAIL_DOMAINS = [
    "example.com",
    "mail.example.org",
    "acme-example.com",
    "uni-example.edu",
    "example.co.uk",
    "post.example.de",
]
IBAN_FORMATS = {
    "DE": (18, "8"),
    "FR": (23, "2"),
    "GB": (18, "BARC"),
    "ES": (20, "2"),
    "NL": (14, "ABNA"),
    "IT": (23, "X"),
}

TEMPLATES = [
    "Please send the contract to {PERSON} at {EMAIL_ADDRESS} before Friday.",
    "{PERSON} moved to {STREET_ADDRESS}, {LOCATION} last spring.",
    "You can reach {PERSON} on {PHONE_NUMBER} during office hours.",
    "My card number is {CREDIT_CARD}, expiry 04/28.",
    "The applicant's SSN is {US_SSN} and she lives in {LOCATION}.",
    "Wire the deposit to IBAN {IBAN_CODE} (account holder {PERSON}).",
    "The login came from {IP_ADDRESS} at 03:14 UTC.",
    "Ship the parcel to {PERSON}, {STREET_ADDRESS}, {LOCATION}.",
    "Our new office is at {STREET_ADDRESS} in {LOCATION}; call {PHONE_NUMBER} for directions.",
    "{PERSON} flew from {LOCATION} to {LOCATION} for the conference.",
    "Contact: {PERSON}, {PHONE_NUMBER}, {EMAIL_ADDRESS}",
    "Hi, I'm {PERSON} and my number is {PHONE_NUMBER}. I was charged twice on card {CREDIT_CARD}.",
    "Can you check why the server at {IP_ADDRESS} refuses connections from {IP_ADDRESS}?",
    "Refund request from {PERSON} ({EMAIL_ADDRESS}); their IBAN is {IBAN_CODE}.",
    "Meeting notes: {PERSON} and {PERSON} agreed to visit the plant in {LOCATION} next month.",
    "Employee record: name {PERSON}, SSN {US_SSN}, address {STREET_ADDRESS}, {LOCATION}.",
    "I forgot my password, my email is {EMAIL_ADDRESS} and my phone {PHONE_NUMBER}.",
    "Dear {PERSON}, thank you for your order. It will be delivered to {STREET_ADDRESS}.",
    "The suspicious traffic originated in {LOCATION} from address {IP_ADDRESS}.",
    "Please update the billing details: card {CREDIT_CARD}, billing address {STREET_ADDRESS}, {LOCATION}.",
    "{PERSON} said the invoice should be paid to {IBAN_CODE} by the end of the month.",
    "Write a reference letter for {PERSON}, who worked with me in {LOCATION} for three years.",
    "Summarise this complaint from {PERSON}: the technician never arrived at {STREET_ADDRESS}.",
    "Call me back at {PHONE_NUMBER} or email {EMAIL_ADDRESS}. Thanks, {PERSON}",
    "The tenant at {STREET_ADDRESS} is {PERSON}; the landlord lives in {LOCATION}.",
    "Verify SSN {US_SSN} for the loan application of {PERSON}.",
    "Book a table for {PERSON} at the restaurant on {STREET_ADDRESS} and text {PHONE_NUMBER} to confirm.",
    "Is {IP_ADDRESS} a private address? Our VPN gateway in {LOCATION} uses it.",
    "Translate into French: {PERSON} will arrive in {LOCATION} on Tuesday.",
    "Fraud alert: card {CREDIT_CARD} was used in {LOCATION} by someone claiming to be {PERSON}.",
    "The report was reviewed by {PERSON}. Nothing else needs attention.",
    "I grew up in {LOCATION} but now I live in {LOCATION}.",
    "Please forward the quote to {EMAIL_ADDRESS} and cc {EMAIL_ADDRESS}.",
    "Our support line {PHONE_NUMBER} is open on weekdays.",
    "The quarterly numbers look fine; no action needed from the team.",
    "Schedule the maintenance window and notify the on-call engineer.",
]


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def credit_card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "37", "6011"])
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = body + _luhn_digit(body)
    if length == 15:
        return rng.choice([number, f"{number[:4]} {number[4:10]} {number[10:]}"])
    groups = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return rng.choice([number, groups, groups.replace(" ", "-")])


def iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_FORMATS))
    length, bank = IBAN_FORMATS[country]
    bban = bank + "".join(rng.choice("0123456789") for _ in range(length - len(bank)))
    rearranged = bban + country + "00"
    numeric = "".join(str(int(character, 36)) for character in rearranged)
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    return rng.choice([value, " ".join(value[i : i + 4] for i in range(0, len(value), 4))])


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return rng.choice([value, value, value.replace("-", " ")])


def phone(rng: random.Random) -> str:
    digits = lambda count: "".join(rng.choice("0123456789") for _ in range(count))  # noqa: E731
    formats = [
        lambda: f"+1 {rng.randint(201, 989)} 555 {digits(4)}",
        lambda: f"({rng.randint(201, 989)}) 555-{digits(4)}",
        lambda: f"+1-{rng.randint(201, 989)}-555-{digits(4)}",
        lambda: f"+44 20 7{digits(3)} {digits(4)}",
        lambda: f"+44 7700 {digits(6)}",
        lambda: f"020 7{digits(3)} {digits(4)}",
        lambda: f"+33 1 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
        lambda: f"+33 6 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
        lambda: f"+49 30 {digits(7)}",
        lambda: f"+49 151 {digits(8)}",
        lambda: f"+34 91 {digits(3)} {digits(2)} {digits(2)}",
        lambda: f"+39 06 {digits(4)} {digits(4)}",
        lambda: f"+81 3-{digits(4)}-{digits(4)}",
        lambda: f"+91 98{digits(3)} {digits(5)}",
        lambda: f"+61 2 {digits(4)} {digits(4)}",
        lambda: f"+55 11 9{digits(4)}-{digits(4)}",
        lambda: f"0049 89 {digits(6)}",
    ]
    return rng.choice(formats)()


def street_address(rng: random.Random) -> str:
    kind = rng.random()
    number = rng.randint(1, 2400)
    if kind < 0.55:
        words = " ".join(rng.sample(STREET_WORDS, rng.choice([1, 1, 2])))
        unit = rng.choice(["", "", "", f", Apt {rng.randint(1, 40)}", f" Suite {rng.randint(100, 900)}"])
        return f"{number} {words} {rng.choice(STREET_SUFFIXES)}{unit}"
    if kind < 0.7:
        return f"{rng.randint(1, 120)} {rng.choice(FR_STREETS)}"
    if kind < 0.85:
        return f"{rng.choice(DE_STREETS)} {rng.randint(1, 120)}{rng.choice(['', '', 'a'])}"
    return f"{rng.choice(ES_IT_STREETS)} {rng.randint(1, 120)}"


def _pool(rng: random.Random, seen: list[str], unseen: list[str]) -> str:
    return rng.choice(unseen if _HELD_OUT and rng.random() < 0.5 else seen)


def person(rng: random.Random) -> str:
    first, last = _pool(rng, FIRST_NAMES, UNSEEN_FIRST_NAMES), _pool(rng, LAST_NAMES, UNSEEN_LAST_NAMES)
    form = rng.random()
    if form < 0.2:
        return f"{rng.choice(TITLES)} {last}"
    if form < 0.3:
        return f"{rng.choice(TITLES)} {first} {last}"
    if form < 0.38:
        return first
    return f"{first} {last}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES).lower(), re.sub(r"[^a-z]", "", rng.choice(LAST_NAMES).lower())
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{rng.randint(1, 99)}", f"{last}.{first}"])
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))


def location(rng: random.Random) -> str:
    return _pool(rng, CITIES, UNSEEN_CITIES) if rng.random() < 0.8 else rng.choice(COUNTRIES)


GENERATORS = {
    "PERSON": person,
    "LOCATION": location,
    "STREET_ADDRESS": street_address,
    "PHONE_NUMBER": phone,
    "EMAIL_ADDRESS": email,
    "CREDIT_CARD": credit_card,
    "US_SSN": ssn,
    "IBAN_CODE": iban,
    "IP_ADDRESS": ip_address,
}
_SLOT = re.compile(r"\{([A-Z_]+)\}")
_HELD_OUT = False  # set while test rows are rendered


def render(template: str, rng: random.Random) -> tuple[str, list[dict]]:
    text, spans, position = [], [], 0
    cursor = 0
    for match in _SLOT.finditer(template):
        literal = template[cursor : match.start()]
        text.append(literal)
        position += len(literal)
        value = GENERATORS[match.group(1)](rng)
        spans.append({"start": position, "end": position + len(value), "type": match.group(1)})
        text.append(value)
        position += len(value)
        cursor = match.end()
    text.append(template[cursor:])
    return "".join(text), spans


def main() -> None:
    global _HELD_OUT
    rng = random.Random(4242)
    rows = []
    for index in range(ROWS):
        split = "train" if (index // len(TEMPLATES)) % 2 == 0 else "test"
        _HELD_OUT = split == "test"
        text, spans = render(TEMPLATES[index % len(TEMPLATES)], rng)
        rows.append({"id": f"pii-{index:04d}", "text": text, "spans": spans, "split": split})
    with OUTPUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    entities = sum(len(row["spans"]) for row in rows)
    print(f"wrote {len(rows)} rows with {entities} labelled spans to {OUTPUT}")


if __name__ == "__main__":
    main()
