"""Header semantics for PII classification: multilingual synonyms and abbreviations.

A column name is a *hint*, never a verdict: ``email_sent`` holding booleans is not an email. The
classifier uses the hint to lower the value-evidence threshold and to disambiguate formats that
values alone cannot settle (a 5-digit code is a postal code only if the header says so). Negative
tokens (``sent``, ``count``, ``verified``, ``model``...) cancel a hint, because those headers name
a fact *about* the PII, not the PII itself.

Synonyms cover English, German, French, Spanish, Dutch, Polish and Italian, plus the usual
abbreviations. Names are normalised first: camelCase split, accents stripped, lower-cased and
cut into tokens on anything that is not a letter or digit.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["header_hint", "header_tokens"]

# Each entry: PII type value -> token sequences (space separated) that name it. A sequence
# matches when its tokens appear consecutively in the normalised header.
_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "email": (
        "email",
        "e mail",
        "mail",
        "emailaddress",
        "mailadresse",
        "courriel",
        "correo",
        "correo electronico",
        "adres email",
        "posta elettronica",
        "mailadres",
    ),
    "phone": (
        "phone",
        "tel",
        "telephone",
        "telefon",
        "telefoon",
        "telefono",
        "telephono",
        "mobile",
        "mobil",
        "handy",
        "cell",
        "cellphone",
        "portable",
        "movil",
        "gsm",
        "komorka",
        "cellulare",
        "fax",
        "phone number",
        "phonenumber",
        "msisdn",
        "numer telefonu",
        "rufnummer",
        "telefonnummer",
        "telefoonnummer",
        "contact number",
    ),
    "person_name": (
        "name",
        "full name",
        "fullname",
        "first name",
        "firstname",
        "last name",
        "lastname",
        "surname",
        "given name",
        "family name",
        "forename",
        "vorname",
        "nachname",
        "familienname",
        "nom",
        "prenom",
        "nom de famille",
        "nombre",
        "apellido",
        "apellidos",
        "naam",
        "voornaam",
        "achternaam",
        "imie",
        "nazwisko",
        "nome",
        "cognome",
        "customer",
        "contact",
        "fname",
        "lname",
        "holder",
        "inhaber",
        "titulaire",
        "titular",
    ),
    "street_address": (
        "address",
        "addr",
        "street",
        "street address",
        "adresse",
        "anschrift",
        "strasse",
        "direccion",
        "domicilio",
        "calle",
        "adres",
        "straat",
        "ulica",
        "adresa",
        "indirizzo",
        "via",
        "address line",
        "address1",
        "addr1",
        "rue",
        "line1",
    ),
    "postal_code": (
        "zip",
        "zipcode",
        "zip code",
        "postcode",
        "postal code",
        "postalcode",
        "plz",
        "postleitzahl",
        "code postal",
        "cp",
        "codigo postal",
        "kod pocztowy",
        "cap",
        "postcode nl",
        "post code",
    ),
    "date_of_birth": (
        "dob",
        "birth",
        "birthday",
        "birthdate",
        "date of birth",
        "birth date",
        "born",
        "geburtsdatum",
        "geburtstag",
        "geboren",
        "naissance",
        "date de naissance",
        "nacimiento",
        "fecha de nacimiento",
        "fecha nacimiento",
        "geboortedatum",
        "geboorte",
        "data urodzenia",
        "urodzenia",
        "data di nascita",
        "nascita",
        "bday",
    ),
    "national_id": (
        "ssn",
        "social security",
        "nino",
        "national insurance",
        "national id",
        "nationalid",
        "steuer id",
        "steuerid",
        "idnr",
        "steueridentifikationsnummer",
        "personalausweis",
        "nir",
        "insee",
        "numero de securite sociale",
        "secu",
        "dni",
        "nie",
        "nif",
        "bsn",
        "burgerservicenummer",
        "pesel",
        "codice fiscale",
        "codicefiscale",
        "cf",
        "tax id",
        "taxid",
        "id number",
        "identity",
        "passport",
        "personnummer",
        "sofinummer",
    ),
    "credit_card": (
        "credit card",
        "creditcard",
        "card number",
        "cardnumber",
        "card",
        "cc",
        "ccn",
        "pan",
        "kreditkarte",
        "kartennummer",
        "carte",
        "carte bancaire",
        "tarjeta",
        "creditcard nummer",
        "karta",
        "numer karty",
        "carta",
        "carta di credito",
    ),
    "iban": (
        "iban",
        "bank account",
        "account number",
        "bankverbindung",
        "konto",
        "kontonummer",
        "rib",
        "cuenta",
        "rekening",
        "rekeningnummer",
        "numer konta",
        "conto",
    ),
    "ip_address": (
        "ip",
        "ip address",
        "ipaddress",
        "ipaddr",
        "client ip",
        "remote addr",
        "ipv4",
        "ipv6",
        "host address",
        "source ip",
        "src ip",
        "adresse ip",
        "direccion ip",
        "indirizzo ip",
    ),
    "mac_address": (
        "mac",
        "mac address",
        "macaddress",
        "macaddr",
        "hwaddr",
        "hardware address",
        "bssid",
        "adresse mac",
        "direccion mac",
        "indirizzo mac",
    ),
    "geolocation": (
        "lat",
        "lon",
        "lng",
        "long",
        "latitude",
        "longitude",
        "geo",
        "geolocation",
        "location",
        "coordinates",
        "coords",
        "gps",
        "position",
        "breitengrad",
        "laengengrad",
        "standort",
        "latitud",
        "longitud",
        "breedtegraad",
        "lengtegraad",
        "szerokosc",
        "dlugosc",
        "latitudine",
        "longitudine",
        "posizione",
        "ubicacion",
        "lat lon",
        "latlng",
        "latlon",
    ),
    "free_text_pii": (
        "comment",
        "comments",
        "note",
        "notes",
        "remark",
        "remarks",
        "description",
        "message",
        "body",
        "text",
        "feedback",
        "kommentar",
        "bemerkung",
        "notiz",
        "commentaire",
        "remarque",
        "comentario",
        "nota",
        "opmerking",
        "uwagi",
        "komentarz",
        "commento",
    ),
}

# Tokens that turn a PII-sounding header into a fact *about* the PII (a flag, a count, a kind).
_NEGATIVE: Final[frozenset[str]] = frozenset(
    {
        "sent",
        "count",
        "counts",
        "verified",
        "valid",
        "validated",
        "is",
        "has",
        "enabled",
        "opt",
        "optin",
        "optout",
        "flag",
        "type",
        "kind",
        "model",
        "brand",
        "status",
        "length",
        "len",
        "hash",
        "hashed",
        "domain",
        "provider",
        "template",
        "version",
        "format",
        "bounced",
        "opened",
        "clicked",
        "confirmed",
        "changed",
        "updated",
        "ok",
        "num",
        "total",
        "score",
        "prefix",
        "code",
        "country",
        "region",
        "tier",
        "category",
    }
)

# "code" is negative in general ("country_code") but part of the postal synonyms; those are
# matched as whole sequences before negatives are considered.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


def header_tokens(name: str) -> tuple[str, ...]:
    """Cut a column name into lower-case ASCII tokens (``dateOfBirth`` -> date, of, birth)."""
    spaced = _CAMEL.sub(" ", name)
    ascii_name = (
        unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode("ascii").lower()
    )
    return tuple(token for token in _SPLIT.split(ascii_name) if token)


def _contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(tokens[i : i + width] == phrase for i in range(len(tokens) - width + 1))


_PHRASES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = tuple(
    sorted(
        ((pii, tuple(s.split())) for pii, synonyms in _SYNONYMS.items() for s in synonyms),
        key=lambda item: -len(item[1]),
    )
)


def header_hint(name: str) -> str | None:
    """The PII type a column name suggests, or ``None`` when it suggests none or is negated.

    The longest matching synonym wins (``ip address`` over ``address``). A negative token left
    over after removing the matched synonym cancels the hint.
    """
    tokens = header_tokens(name)
    joined = ("".join(tokens),)
    for pii, phrase in _PHRASES:
        if _contains(tokens, phrase) or (len(phrase) > 1 and joined == ("".join(phrase),)):
            rest = set(tokens) - set(phrase)
            if rest & _NEGATIVE:
                return None
            return pii
    return None
