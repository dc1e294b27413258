"""Seeded generator of the labeled PII evaluation set: Parquet tables plus ``labels.json``.

    python -m tests.data.pii.generate OUT_DIR [--tables 36] [--seed 7]

Each table belongs to one locale (en_US, en_GB, de_DE, fr_FR, es_ES, nl_NL, pl_PL, it_IT) and
mixes PII columns with decoys, so the scorer measures both recall and restraint:

- PII columns carry valid values (checksums computed, phone numbers checked against the
  numbering plan) under one of three header styles: *helpful* (native-language synonyms),
  *unhelpful* (``col_7``, ``field_b``) or *misleading* (``reference``, ``value``, ``info``).
  Types whose values cannot be told apart without their header (bare 5-digit postal codes,
  float coordinates) only ever get helpful headers: no classifier could settle those, and the
  set should not pretend otherwise.
- Decoys are what naive detectors flag: order numbers that look like phone numbers, UUIDs,
  hashes, timestamps, creation dates, sequential and random ids, SKUs, tracking numbers,
  product and city names, PII-sounding headers over non-PII values (``email_sent`` booleans,
  ``phone_model``, ``card_type``, ``name`` holding product names, ``ip_count``).
- Every column is 20-40 % null; PII columns carry up to 3 % dirty values (``n/a``, ``-``) and
  mix layouts (E.164 and national phones, ``Last, First`` and middle initials, upper-case
  emails, street lines with postal code and city).
- Free-text columns mention PII (an email, a phone, a titled name, an IBAN) in a minority of
  rows (about 20 %); decoy free text never does.

The person names drawn here are partly outside the classifier's gazetteer on purpose.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.de import idnr
from stdnum.es import ccc, dni
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "nl_NL", "pl_PL", "it_IT")

# First names / surnames per locale; roughly a third are outside the classifier's gazetteer.
NAMES = {
    "en_US": (
        "James Mary Robert Linda Michael Emily Tyler Brooke Dakota Kayla Hunter Destiny Colton",
        "Smith Johnson Brown Davis Miller Wilson Anderson Sullivan Whitaker Holloway Prescott",
    ),
    "en_GB": (
        "Oliver Amelia Harry Isla George Charlotte Alfie Poppy Rupert Imogen Hamish Tamsin",
        "Taylor Davies Evans Roberts Walker Wright Thompson Ashworth Pennington Fairbrother",
    ),
    "de_DE": (
        "Lukas Anna Jonas Lena Felix Sabine Klaus Ursula Torben Wiebke Gesine Hauke Frauke",
        "Müller Schmidt Schneider Fischer Weber Hoffmann Zimmermann Brinkmann Oltmanns Harms",
    ),
    "fr_FR": (
        "Pierre Marie Julien Camille Nicolas Sophie Hugo Chloé Gwenaël Maëlle Enguerrand Solène",
        "Martin Bernard Dubois Durand Lefebvre Moreau Girard Lecomte Vasseur Kerjean Daguerre",
    ),
    "es_ES": (
        "José María Antonio Carmen Javier Lucía Pablo Elena Iñigo Ainhoa Itziar Fermín",
        "García Fernández López Martínez Sánchez Pérez Gómez Etxeberria Urquijo Villalobos",
    ),
    "nl_NL": (
        "Jan Anne Pieter Sanne Daan Femke Bram Lotte Gijs Marloes Hidde Jildou Wietske",
        "Jansen Bakker Visser Smit Meijer Mulder Dekker Brouwer Hoekstra Zwart Kuipers",
    ),
    "pl_PL": (
        "Piotr Anna Krzysztof Katarzyna Tomasz Agnieszka Jakub Magdalena Bożena Zdzisław",
        "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Lewandowski Zieliński Szczepański Głowacki",
    ),
    "it_IT": (
        "Giuseppe Maria Marco Giulia Luca Francesca Matteo Chiara Ottavio Benedetta Gennaro",
        "Rossi Russo Ferrari Esposito Bianchi Romano Ricci Brambilla Scognamiglio Quaranta",
    ),
}
REGION = {loc: loc.split("_")[1] for loc in LOCALES}
REGION["en_GB"] = "GB"
STREETS = "Oak Maple Cedar Mill Church Station Park Hill Lake Garden School Bridge Linden Rosen"
CITIES = "Paris Berlin Madrid Rome Amsterdam Warsaw Lyon Munich Seville Utrecht Krakow Turin"
PRODUCTS = [
    "Ergonomic",
    "Rustic",
    "Sleek",
    "Compact",
    "Deluxe",
    "Premium",
    "Classic",
    "Smart",
    "Portable",
    "Modern",
]
NOUNS = [
    "Chair",
    "Lamp",
    "Desk",
    "Kettle",
    "Backpack",
    "Speaker",
    "Monitor",
    "Blender",
    "Sofa",
    "Router",
    "Drill",
    "Jacket",
]

Row = Callable[[random.Random], object]


def _name(loc: str, rng: random.Random) -> tuple[str, str]:
    first, last = NAMES[loc]
    return rng.choice(first.split()), rng.choice(last.split())


def _phone(loc: str, rng: random.Random) -> str:
    region = REGION[loc]
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = str(example.national_number)
    for _ in range(100):
        tail = "".join(rng.choice(string.digits) for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{tail}")
        if phonenumbers.is_valid_number(number):
            style = rng.choice(
                [
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    phonenumbers.PhoneNumberFormat.NATIONAL,
                ]
            )
            return phonenumbers.format_number(number, style)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _phone_any(loc: str, rng: random.Random) -> str:
    """National, international or E.164 layout, as exports mix them."""
    number = _phone(loc, rng)
    if rng.random() < 0.2:
        parsed = phonenumbers.parse(number, REGION[loc])
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number


def _full_name(loc: str, rng: random.Random) -> str:
    """``First Last``, with a middle initial or as ``Last, First`` now and then."""
    first, last = _name(loc, rng)
    roll = rng.random()
    if roll < 0.15:
        return f"{last}, {first}"
    if roll < 0.3:
        return f"{first} {rng.choice(string.ascii_uppercase)}. {last}"
    return f"{first} {last}"


def _cased(value: str, rng: random.Random) -> str:
    return value.upper() if rng.random() < 0.1 else value


def _email(loc: str, rng: random.Random) -> str:
    first, last = _name(loc, rng)
    ascii_name = (first + "." + last).lower().encode("ascii", "ignore").decode()
    domain = rng.choice(["example.com", "mail.de", "posteo.net", "orange.fr", "gmail.com", "wp.pl"])
    return f"{ascii_name}{rng.randint(1, 99)}@{domain}"


def _street(loc: str, rng: random.Random) -> str:
    word = rng.choice(STREETS.split())
    number = rng.randint(1, 250)
    last = _name(loc, rng)[1]
    street = {
        "en_US": f"{number} {word} {rng.choice(['Street', 'Ave', 'Road', 'Lane', 'Drive'])}",
        "en_GB": f"{number} {word} {rng.choice(['Road', 'Street', 'Close', 'Lane'])}",
        "de_DE": f"{word}{rng.choice(['straße', 'weg', 'allee'])} {number}",
        "fr_FR": f"{number} {rng.choice(['rue', 'avenue', 'boulevard'])} {last}",
        "es_ES": f"{rng.choice(['Calle', 'Avenida'])} {last} {number}",
        "nl_NL": f"{word}{rng.choice(['straat', 'laan', 'weg'])} {number}",
        "pl_PL": f"ul. {last} {number}",
        "it_IT": f"{rng.choice(['Via', 'Piazza', 'Corso'])} {last} {number}",
    }[loc]
    if rng.random() < 0.3:  # a full address line: street, postal code and city
        return f"{street}, {_postal(loc, rng)} {rng.choice(CITIES.split())}"
    return street


def _postal(loc: str, rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    if loc == "en_GB":
        area = f"{rng.choice(['SW', 'N', 'EC', 'M', 'B', 'LS'])}{rng.randint(1, 20)}"
        return f"{area} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    if loc == "nl_NL":
        return f"{rng.randint(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"
    if loc == "pl_PL":
        return f"{rng.randint(0, 99):02d}-{rng.randint(0, 999):03d}"
    return f"{rng.randint(1000, 99999):05d}"


def _birth(rng: random.Random) -> dt.date:
    return dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 65 * 365))


def _checked(make: Callable[[], str], valid: Callable[[str], bool]) -> str:
    while True:
        value = make()
        if valid(value):
            return value


def _national_id(loc: str, rng: random.Random) -> str:  # noqa: PLR0911 - one scheme per locale
    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    if loc == "en_US":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if loc == "en_GB":
        head = rng.choice(["AB", "CE", "JK", "PR", "SW", "YZ"])
        return f"{head} {digits(2)} {digits(2)} {digits(2)} {rng.choice('ABCD')}"
    if loc == "de_DE":
        return _checked(lambda: str(rng.randint(1, 9)) + digits(10), idnr.is_valid)
    if loc == "fr_FR":

        def make_nir() -> str:
            born = f"{rng.randint(1, 2)}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}"
            body = f"{born}{rng.randint(1, 95):02d}{digits(6)}"
            return body + nir.calc_check_digits(body)

        return make_nir()
    if loc == "es_ES":
        body = digits(8)
        return body + dni.calc_check_digit(body)
    if loc == "nl_NL":
        return _checked(lambda: str(rng.randint(1, 9)) + digits(8), bsn.is_valid)
    if loc == "pl_PL":

        def make_pesel() -> str:
            born = _birth(rng)
            body = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{digits(4)}"
            return body + pesel.calc_check_digit(body)

        return make_pesel()
    body = (
        "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
        + f"{rng.randint(40, 99)}{rng.choice('ABCDEHLMPRST')}{rng.randint(1, 28):02d}"
        + f"{rng.choice('ABCDEFGHILM')}{rng.randint(100, 999)}"
    )
    return body + codicefiscale.calc_check_digit(body)


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + luhn.calc_check_digit(body)
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


IBAN_BBAN = {"DE": 18, "FR": 23, "ES": 20, "NL": 14, "PL": 24, "IT": 23, "GB": 18, "US": 18}


def _iban(loc: str, rng: random.Random) -> str:
    country = REGION[loc] if REGION[loc] != "US" else "DE"

    def make() -> str:
        if country == "NL":
            bban = rng.choice(["ABNA", "RABO", "INGB"]) + "".join(
                rng.choice(string.digits) for _ in range(10)
            )
        elif country == "GB":
            bban = rng.choice(["NWBK", "BARC", "LOYD"]) + "".join(
                rng.choice(string.digits) for _ in range(14)
            )
        elif country == "ES":
            bank = "".join(rng.choice(string.digits) for _ in range(8))
            account = "".join(rng.choice(string.digits) for _ in range(10))
            bban = bank + ccc.calc_check_digits(bank + "00" + account) + account
        elif country == "IT":
            bban = rng.choice(string.ascii_uppercase) + "".join(
                rng.choice(string.digits) for _ in range(22)
            )
        else:
            bban = "".join(rng.choice(string.digits) for _ in range(IBAN_BBAN[country]))
        number = country + "00" + bban
        return country + stdnum_iban.calc_check_digits(number) + bban

    value = _checked(make, stdnum_iban.is_valid)
    if rng.random() < 0.5:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.8:
        octets = (
            rng.randint(11, 223),
            rng.randint(0, 255),
            rng.randint(0, 255),
            rng.randint(1, 254),
        )
        return ".".join(map(str, octets))
    return "2001:db8:" + ":".join(f"{rng.randint(0, 65535):x}" for _ in range(6))


def _mac(rng: random.Random) -> str:
    sep = rng.choice([":", "-"])
    return sep.join(f"{rng.randint(0, 255):02X}" for _ in range(6))


SENTENCES = [
    "The delivery arrived two days late and the box was damaged.",
    "Customer asked for a refund because the size did not fit.",
    "Great product, works as described and support was helpful.",
    "Please call back regarding the invoice discrepancy next week.",
    "Order was split into two shipments due to stock levels.",
    "Requested a change of delivery slot to the afternoon.",
]


def _free_text(loc: str, rng: random.Random, *, with_pii: bool) -> str:
    text = rng.choice(SENTENCES) + " " + rng.choice(SENTENCES)
    if not with_pii:
        return text
    first, last = _name(loc, rng)
    extras: list[Callable[[], str]] = [
        lambda: f"Contact: {_email(loc, rng)}.",
        lambda: f"Reach me on {_intl_phone(loc, rng)} please.",
        lambda: f"Spoke with Mr. {last} about it.",
        lambda: f"Refund to account {_iban(loc, rng)} requested.",
        lambda: f"Ms. {first} {last} confirmed the address.",
    ]
    return f"{text} {rng.choice(extras)()}"


def _intl_phone(loc: str, rng: random.Random) -> str:
    number = _phone(loc, rng)
    region = REGION[loc]
    return phonenumbers.format_number(
        phonenumbers.parse(number, region), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def _pii_columns(loc: str) -> dict[str, tuple[list[str], Callable[[random.Random], object]]]:
    """PII type -> (helpful native headers, value maker)."""
    helpful = {
        "en_US": {
            "email": ["email", "Email Address"],
            "phone": ["phone", "mobile_number"],
            "person_name": ["full_name", "customer_name"],
            "street_address": ["address", "street"],
            "postal_code": ["zip", "zip_code"],
            "date_of_birth": ["dob", "birth_date"],
            "national_id": ["ssn"],
            "credit_card": ["card_number"],
            "iban": ["iban"],
            "first_name": ["first_name"],
        },
        "en_GB": {
            "email": ["email"],
            "phone": ["telephone"],
            "person_name": ["name"],
            "street_address": ["address_line1"],
            "postal_code": ["postcode"],
            "date_of_birth": ["date_of_birth"],
            "national_id": ["nino", "ni_number"],
            "credit_card": ["cc_number"],
            "iban": ["iban"],
            "first_name": ["forename"],
        },
        "de_DE": {
            "email": ["E-Mail", "email_adresse"],
            "phone": ["Telefon", "Handynummer"],
            "person_name": ["Name", "kunde_name"],
            "street_address": ["Straße", "Anschrift"],
            "postal_code": ["PLZ", "Postleitzahl"],
            "date_of_birth": ["Geburtsdatum"],
            "national_id": ["Steuer-ID", "IdNr"],
            "credit_card": ["Kreditkarte"],
            "iban": ["IBAN", "Kontonummer"],
            "first_name": ["Vorname"],
        },
        "fr_FR": {
            "email": ["courriel", "adresse_email"],
            "phone": ["téléphone", "portable"],
            "person_name": ["nom_complet"],
            "street_address": ["adresse"],
            "postal_code": ["code_postal", "cp"],
            "date_of_birth": ["date_de_naissance"],
            "national_id": ["numero_securite_sociale", "NIR"],
            "credit_card": ["carte_bancaire"],
            "iban": ["iban"],
            "first_name": ["prénom"],
        },
        "es_ES": {
            "email": ["correo", "correo_electronico"],
            "phone": ["teléfono", "movil"],
            "person_name": ["nombre_completo"],
            "street_address": ["dirección", "domicilio"],
            "postal_code": ["codigo_postal"],
            "date_of_birth": ["fecha_de_nacimiento"],
            "national_id": ["dni"],
            "credit_card": ["tarjeta"],
            "iban": ["iban", "cuenta"],
            "first_name": ["nombre"],
        },
        "nl_NL": {
            "email": ["e-mailadres", "email"],
            "phone": ["telefoonnummer"],
            "person_name": ["naam"],
            "street_address": ["adres", "straat"],
            "postal_code": ["postcode"],
            "date_of_birth": ["geboortedatum"],
            "national_id": ["bsn"],
            "credit_card": ["creditcard"],
            "iban": ["rekeningnummer", "iban"],
            "first_name": ["voornaam"],
        },
        "pl_PL": {
            "email": ["email", "adres_email"],
            "phone": ["telefon", "numer_telefonu"],
            "person_name": ["imie_nazwisko"],
            "street_address": ["adres", "ulica"],
            "postal_code": ["kod_pocztowy"],
            "date_of_birth": ["data_urodzenia"],
            "national_id": ["pesel"],
            "credit_card": ["numer_karty"],
            "iban": ["numer_konta"],
            "first_name": ["imie"],
        },
        "it_IT": {
            "email": ["email", "posta_elettronica"],
            "phone": ["telefono", "cellulare"],
            "person_name": ["nome_cognome"],
            "street_address": ["indirizzo"],
            "postal_code": ["cap"],
            "date_of_birth": ["data_di_nascita"],
            "national_id": ["codice_fiscale"],
            "credit_card": ["carta_di_credito"],
            "iban": ["iban", "conto"],
            "first_name": ["nome"],
        },
    }[loc]
    date_fmt = {"en_US": "%m/%d/%Y", "de_DE": "%d.%m.%Y", "nl_NL": "%d-%m-%Y"}.get(loc, "%d/%m/%Y")

    def dob(rng: random.Random) -> object:
        return _birth(rng)

    def dob_text(rng: random.Random) -> object:
        return _birth(rng).strftime(date_fmt)

    return {
        "email": (helpful["email"], lambda r: _cased(_email(loc, r), r)),
        "phone": (helpful["phone"], lambda r: _phone_any(loc, r)),
        "person_name": (helpful["person_name"], lambda r: _full_name(loc, r)),
        "person_name/first": (helpful["first_name"], lambda r: _name(loc, r)[0]),
        "street_address": (helpful["street_address"], lambda r: _street(loc, r)),
        "postal_code": (helpful["postal_code"], lambda r: _postal(loc, r)),
        "date_of_birth": (helpful["date_of_birth"], dob),
        "date_of_birth/text": (helpful["date_of_birth"], dob_text),
        "national_id": (helpful["national_id"], lambda r: _national_id(loc, r)),
        "credit_card": (helpful["credit_card"], _card),
        "iban": (helpful["iban"], lambda r: _iban(loc, r)),
        "ip_address": (["ip_address", "client_ip", "ip"], _ip),
        "mac_address": (["mac_address", "device_mac"], _mac),
        "geolocation/lat": (["latitude", "lat"], lambda r: round(r.uniform(35, 60), 6)),
        "geolocation/lon": (["longitude", "lng"], lambda r: round(r.uniform(-10, 25), 6)),
        "geolocation/pair": (
            ["location", "gps"],
            lambda r: f"{r.uniform(35, 60):.5f}, {r.uniform(-10, 25):.5f}",
        ),
        "free_text_pii": (
            ["notes", "comment"],
            lambda r: _free_text(loc, r, with_pii=r.random() < 0.2),
        ),
    }


# Types settled only by their header; they never get unhelpful or misleading names.
HEADER_ONLY = {"geolocation/lat", "geolocation/lon"}
UNHELPFUL = ["col_{i}", "field_{i}", "attr{i}", "c{i}", "x{i}", "data_{i}"]
MISLEADING = ["reference", "value", "info", "code", "misc", "details", "extra", "key"]


def _decoys(loc: str) -> list[tuple[str, Callable[[random.Random], object]]]:
    today = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return [
        (
            "order_no",
            lambda r: "0" + "".join(r.choice(string.digits) for _ in range(r.choice([9, 10]))),
        ),
        ("order_number", lambda r: str(r.randint(10**9, 10**10 - 1))),
        (
            "order_ref",
            lambda r: f"{r.randint(1000, 9999)} {r.randint(100, 999)} {r.randint(1000, 9999)}",
        ),
        ("uuid", lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4))),
        ("session_id", lambda r: uuid.UUID(int=r.getrandbits(128), version=4).hex),
        ("checksum", lambda r: hashlib.md5(r.randbytes(8), usedforsecurity=False).hexdigest()),
        ("sha256", lambda r: hashlib.sha256(r.randbytes(8)).hexdigest()),
        ("created_at", lambda r: today - dt.timedelta(seconds=r.randint(0, 3 * 365 * 86400))),
        (
            "updated_at",
            lambda r: (today - dt.timedelta(seconds=r.randint(0, 86400 * 900))).isoformat(),
        ),
        ("order_date", lambda r: (today - dt.timedelta(days=r.randint(0, 900))).date()),
        ("id", None),  # sequential, filled below
        ("account_id", lambda r: r.randint(10**15, 10**16 - 1)),
        ("sku", lambda r: f"SKU-{r.randint(1000, 9999)}-{r.choice(['S', 'M', 'L', 'XL'])}"),
        (
            "tracking",
            lambda r: (
                "1Z" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
            ),
        ),
        ("amount", lambda r: round(r.uniform(1, 900), 2)),
        ("quantity", lambda r: r.randint(1, 20)),
        ("status", lambda r: r.choice(["new", "paid", "shipped", "cancelled"])),
        ("country", lambda r: r.choice(["DE", "FR", "ES", "NL", "PL", "IT", "GB", "US"])),
        ("product", lambda r: f"{r.choice(PRODUCTS)} {r.choice(NOUNS)}"),
        ("name", lambda r: f"{r.choice(PRODUCTS)} {r.choice(NOUNS)}"),
        ("city", lambda r: r.choice(CITIES.split())),
        ("email_sent", lambda r: r.random() < 0.5),
        ("phone_model", lambda r: r.choice(["iPhone 14", "Pixel 8", "Galaxy S23", "Fairphone 5"])),
        ("card_type", lambda r: r.choice(["Visa", "Mastercard", "Amex"])),
        ("address_verified", lambda r: r.random() < 0.7),
        ("ip_count", lambda r: r.randint(0, 40)),
        ("version", lambda r: f"{r.randint(1, 5)}.{r.randint(0, 20)}.{r.randint(0, 9)}"),
        ("discount_rate", lambda r: round(r.uniform(0, 0.5), 4)),
        ("review", lambda r: _free_text(loc, r, with_pii=False)),
        (
            "invoice_date",
            lambda r: (today - dt.timedelta(days=r.randint(0, 3650))).strftime("%d.%m.%Y"),
        ),
        ("ticket", lambda r: f"INC{r.randint(0, 9_999_999):07d}"),
        ("iban_verified", lambda r: r.random() < 0.9),
        ("card_last4", lambda r: f"{r.randint(0, 9999):04d}"),
        ("mac_vendor", lambda r: r.choice(["Apple, Inc.", "Cisco Systems", "Intel Corporate"])),
        ("hostname", lambda r: f"web-{r.randint(1, 40):02d}.example.com"),
        ("url", lambda r: f"https://shop.example.com/p/{r.randint(1, 99999)}"),
        ("price", lambda r: f"{r.randint(1, 500)},{r.randint(0, 99):02d} €"),
        ("phone", lambda r: f"ORD-{r.randint(100000, 999999)}"),
        ("contact_id", lambda r: r.randint(1, 10**6)),
        ("year", lambda r: r.randint(1990, 2026)),
        ("birth_year_bucket", lambda r: r.choice(["18-24", "25-34", "35-44", "45-54", "55+"])),
    ]


def _with_nulls(values: list[object], rng: random.Random, *, dirty: bool) -> list[object]:
    null_share = rng.uniform(0.2, 0.4)
    dirty_share = rng.uniform(0.0, 0.03) if dirty else 0.0
    out: list[object] = []
    for value in values:
        roll = rng.random()
        if roll < null_share:
            out.append(None)
        elif roll < null_share + dirty_share and isinstance(value, str):
            out.append(rng.choice(["n/a", "-", "unknown", "?"]))
        else:
            out.append(value)
    return out


def generate(out_dir: Path, *, tables: int = 36, seed: int = 7) -> dict[str, dict[str, str]]:
    """Write ``tables`` Parquet files and ``labels.json`` into ``out_dir``; return the labels."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    out_dir.mkdir(parents=True, exist_ok=True)
    labels: dict[str, dict[str, str]] = {}
    for index in range(tables):
        loc = LOCALES[index % len(LOCALES)]
        rows = rng.randint(300, 800)
        makers = _pii_columns(loc)
        chosen = rng.sample(sorted(makers), rng.randint(5, 8))
        columns: dict[str, list[object]] = {}
        table_labels: dict[str, str] = {}
        for counter, key in enumerate(chosen, start=1):
            headers, make = makers[key]
            needs_header = key in HEADER_ONLY or (
                key == "postal_code" and loc not in {"en_GB", "nl_NL", "pl_PL"}
            )
            styles = ["helpful", "unhelpful", "misleading"]
            style = "helpful" if needs_header else rng.choices(styles, [0.55, 0.3, 0.15])[0]
            if style == "helpful":
                header = rng.choice(headers)
            elif style == "unhelpful":
                header = rng.choice(UNHELPFUL).format(i=counter)
            else:
                header = f"{rng.choice(MISLEADING)}_{counter}"
            while header in columns:
                header += "_2"
            values = [make(rng) for _ in range(rows)]
            columns[header] = _with_nulls(values, rng, dirty=key != "free_text_pii")
            table_labels[header] = key.split("/")[0]
        for name, make_decoy in rng.sample(_decoys(loc), rng.randint(4, 7)):
            header = name if name not in columns else f"{name}_2"
            values = (
                list(range(1, rows + 1))
                if make_decoy is None
                else [make_decoy(rng) for _ in range(rows)]
            )
            columns[header] = _with_nulls(values, rng, dirty=False)
            table_labels[header] = "none"
        order = list(columns)
        rng.shuffle(order)
        name = f"t{index:02d}_{loc}"
        pq.write_table(pa.table({col: columns[col] for col in order}), out_dir / f"{name}.parquet")
        labels[name] = {col: table_labels[col] for col in order}
    (out_dir / "labels.json").write_text(json.dumps(labels, indent=1, ensure_ascii=False))
    return labels


def main() -> None:
    """Command line: write the set into a folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tables", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    labels = generate(args.out, tables=args.tables, seed=args.seed)
    print(f"{len(labels)} tables, {sum(len(v) for v in labels.values())} columns -> {args.out}")


if __name__ == "__main__":
    main()
