"""Value evidence for PII classification: regex prefilters, then checksum and parse validators.

Every detector looks at the non-null values of one column's bounded sample and returns the share
of them that *really* are the PII type. The work is split in two so it stays fast:

1. a vectorized prefilter (``pyarrow.compute`` regular expressions, RE2) keeps only values that
   have the right shape; most columns are rejected here without a Python loop;
2. a validator (Luhn, IBAN mod-97, python-stdnum national ids, ``phonenumbers`` parsing,
   ``ipaddress``) runs on at most ``VALIDATE_CAP`` shaped candidates, so a 10,000-value sample
   costs at most a few thousand calls. The valid share of those candidates scales the shaped share.

Checksums are what keep decoys out: an order number or a random id has the *shape* of a phone or
a card far more often than it passes its checksum or numbering plan.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import datetime as dt

__all__ = [
    "HINTED_THRESHOLD",
    "PROBE",
    "THRESHOLD",
    "VALIDATE_CAP",
    "Hit",
    "detect_date_of_birth",
    "detect_free_text",
    "detect_geolocation_numbers",
    "detect_strings",
]

VALIDATE_CAP: Final = 2000
PROBE: Final = 64
# Share of non-null sampled values that must validate: 80 %, or 60 % under a matching header.
THRESHOLD: Final = 0.8
HINTED_THRESHOLD: Final = 0.6

Validator = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Hit:
    """One PII type's evidence on a column: what matched and on which share of the values."""

    pii_type: str
    matched: str
    ratio: float


def _shaped(values: pa.StringArray, pattern: str) -> pa.Array:
    return values.filter(pc.fill_null(pc.match_substring_regex(values, pattern), False))


def _validated_ratio(
    values: pa.StringArray,
    pattern: str,
    validator: Validator | None,
    rng: np.random.Generator,
    *,
    needed: float = 0.0,
) -> float:
    """Share of ``values`` matching ``pattern`` and passing ``validator`` (estimated past cap).

    ``needed`` is the share the caller's threshold asks for: when the shapes alone fall short,
    or the first ``PROBE`` validated candidates already show the share cannot be reached, the
    validator stops there. This is what keeps a card column from paying for a full phone parse.
    """
    total = len(values)
    if total == 0:
        return 0.0
    candidates = _shaped(values, pattern)
    shaped = len(candidates)
    if shaped == 0 or validator is None:
        return shaped / total
    if shaped / total < needed:
        return 0.0
    if shaped > VALIDATE_CAP:
        candidates = candidates.take(pa.array(rng.choice(shaped, VALIDATE_CAP, replace=False)))
    checked = candidates.to_pylist()
    probe = sum(1 for value in checked[:PROBE] if validator(value))
    projected = (shaped / total) * (probe / min(PROBE, len(checked)))
    if len(checked) <= PROBE or projected < needed * 0.75:
        return projected
    valid = probe + sum(1 for value in checked[PROBE:] if validator(value))
    return (shaped / total) * (valid / len(checked))


# --- validators -------------------------------------------------------------------------------


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _luhn_card(value: str) -> bool:
    from stdnum import luhn  # noqa: PLC0415 - validator library loaded on first use (DESIGN §2)

    digits = _digits(value)
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return False
    issuer = (
        digits[0] == "4"
        or 51 <= int(digits[:2]) <= 55
        or 2221 <= int(digits[:4]) <= 2720
        or digits[:2] in {"34", "37", "36", "38", "65"}
        or digits[:4] == "6011"
        or 3528 <= int(digits[:4]) <= 3589
    )
    return issuer and luhn.is_valid(digits)


def _iban(value: str) -> bool:
    from stdnum import iban  # noqa: PLC0415 - validator library loaded on first use (DESIGN §2)

    return bool(iban.is_valid(value))


def _ip(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return not address.is_unspecified


_NANP: Final = re.compile(r"^\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}$")
_DATE_LIKE: Final = re.compile(
    r"^\d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}$|^\d{1,2}[\-/.]\d{1,2}[\-/.]\d{4}$"
)
_NATIONAL_REGIONS: Final = ("DE", "FR", "GB", "NL", "ES", "IT", "PL", "US")
# Numbering plans written nationally without a trunk ``0`` (``612 34 56 78``, ``512 345 678``).
_NO_TRUNK_REGIONS: Final = ("ES", "PL", "IT")


def _phone_validator(*, hinted: bool) -> Validator:
    """A phone validator; digits-only values without a leading ``+``/``0`` count only if hinted.

    A bare run of digits is as likely an order number as a phone, so its shape alone is no
    evidence; a leading ``+``, international ``00``, a trunk ``0`` with separators, or the
    ``(212) 555-0143`` layout are how people actually write phone numbers.
    """
    import phonenumbers  # noqa: PLC0415 - numbering-plan metadata loaded on first use (DESIGN §2)

    def valid_in(number: str, regions: tuple[str | None, ...]) -> bool:
        for region in regions:
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return True
        return False

    def validate(value: str) -> bool:  # noqa: PLR0911 - one return per way of writing a number
        text = value.strip()
        if _DATE_LIKE.match(text):
            return False
        digits = _digits(text)
        separated = len(digits) != len(text)
        if text.startswith("+"):
            return valid_in(text, (None,))
        if text.startswith("00"):
            return valid_in("+" + digits[2:], (None,))
        if text.startswith("0") and (separated or hinted):
            return valid_in(text, _NATIONAL_REGIONS)
        if _NANP.match(text) or (hinted and not separated):
            return valid_in(text, ("US",))
        if separated or hinted:
            return valid_in(text, _NO_TRUNK_REGIONS)
        return False

    return validate


def _stdnum(module: str) -> Validator:
    def validate(value: str) -> bool:
        import importlib  # noqa: PLC0415 - stdnum modules resolved by name on first use

        checker = importlib.import_module(f"stdnum.{module}")
        return bool(checker.is_valid(value))

    return validate


def _ssn(value: str) -> bool:
    from stdnum.us import ssn  # noqa: PLC0415 - validator library loaded on first use (DESIGN §2)

    return bool(ssn.is_valid(value)) and _digits(value) not in {"123456789", "078051120"}


# --- string detectors ---------------------------------------------------------------------------

# Latin letters spelled out: RE2 builds ``\p{L}`` tables on every call (milliseconds per column),
# an explicit range costs microseconds and covers every language the classifier targets.
_L: Final = "A-Za-zÀ-ÖØ-öø-ɏ"
_LU: Final = "A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻŠŽČŘĽŤ"
_LL: Final = "a-zß-öø-ÿą-žſ"

_EMAIL: Final = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"
)
_MAC: Final = r"^(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$"
_IP: Final = r"^\d{1,3}(?:\.\d{1,3}){3}$|^[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}$"
_CARD: Final = r"^(?:\d[ -]?){12,18}\d$"
_IBAN: Final = r"^[A-Za-z]{2}\d{2}[ ]?(?:[A-Za-z0-9]{1,4}[ ]?){3,8}$"
_PHONE: Final = r"^\+?[\d\s().\-/]{7,22}$"
_GEO_PAIR: Final = r"^\(?-?\d{1,2}\.\d{3,}\s*[,;]\s*-?\d{1,3}\.\d{3,}\)?$"

# National ids: (scheme, shape, validator). A value counts when it passes the validator of a
# scheme whose shape it has, so a customer table mixing countries (SSNs, NINOs, BSNs...) is one
# national id column. Random ids still stay far below the threshold: a digit run passes the
# checksum of the one or two schemes of its length about 1 time in 10.
_NATIONAL_IDS: Final[tuple[tuple[str, str, Validator | None], ...]] = (
    ("US SSN", r"^\d{3}-\d{2}-\d{4}$", _ssn),
    (
        "UK NINO",
        r"^(?:[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])(?:\s?\d{2}){3}\s?[A-D]$",
        lambda v: v.replace(" ", "")[:2] not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"},
    ),
    ("DE Steuer-IdNr", r"^\d{2}\s?\d{3}\s?\d{3}\s?\d{3}$", _stdnum("de.idnr")),
    (
        "FR NIR",
        r"^[12]\s?\d{2}\s?\d{2}\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}\s?\d{2}$",
        _stdnum("fr.nir"),
    ),
    ("ES DNI", r"^\d{8}-?[A-Za-z]$", _stdnum("es.dni")),
    ("ES NIE", r"^[XYZxyz]-?\d{7}-?[A-Za-z]$", _stdnum("es.nie")),
    ("NL BSN", r"^\d{9}$|^\d{4}\.\d{2}\.\d{3}$", _stdnum("nl.bsn")),
    ("PL PESEL", r"^\d{11}$", _stdnum("pl.pesel")),
    (
        "IT codice fiscale",
        r"^[A-Za-z]{6}\d{2}[A-Za-z]\d{2}[A-Za-z]\d{3}[A-Za-z]$",
        _stdnum("it.codicefiscale"),
    ),
)

# Postal codes: distinctive layouts count on their own; bare digit runs only under a header hint.
_POSTAL_DISTINCT: Final = (
    r"^(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}"  # UK
    r"|[1-9]\d{3}\s?[A-Z]{2}"  # NL
    r"|\d{2}-\d{3}"  # PL
    r"|\d{5}-\d{4})$"  # US ZIP+4
)
_POSTAL_DIGITS: Final = r"^\d{4,5}$"

_STREET: Final = (
    r"(?i)(?:"
    rf"^\d+[a-z]?,?\s+(?:[{_L}]+\s+){{0,3}}[{_L}]*(?:street|st\.?|avenue|ave\.?|road|rd\.?|lane|ln\.?"
    r"|drive|dr\.?|boulevard|blvd\.?|way|court|ct\.?|place|pl\.?|terrace|close|crescent)(?:\s|,|$)"
    rf"|^\d+[a-z]?,?\s+(?:rue|avenue|boulevard|bd|chemin|all[ée]e|place|impasse|quai|route)\s+[{_L}]"
    rf"|[{_L}]*(?:stra(?:ß|ss)e|str\.|weg|allee|platz|gasse|ring|damm|straat|laan|plein|gracht"
    r"|kade|singel|dijk|steeg)\s+\d+\s?[a-z]?(?:\s|,|$)"
    r"|^(?:calle|c/|avenida|avda\.?|paseo|plaza|camino|carrer|ronda)\s+.+\d+"
    r"|^(?:ul\.|ulica|al\.|aleja|os\.|pl\.)\s+.+\d+"
    r"|^(?:via|viale|piazza|corso|vicolo|largo|piazzale|strada)\s+.+\d+"
    r")"
)


def detect_strings(
    values: pa.StringArray,
    *,
    hint: str | None,
    rng: np.random.Generator,
) -> list[Hit]:
    """Score every structured PII type on a column's non-null string sample."""
    phone = _phone_validator(hinted=hint == "phone")

    def ratio(pii: str, pattern: str, validator: Validator | None) -> float:
        needed = HINTED_THRESHOLD if hint == pii else THRESHOLD
        return _validated_ratio(values, pattern, validator, rng, needed=needed)

    hits = [
        Hit("email", "RFC 5322 addresses", ratio("email", _EMAIL, None)),
        Hit("mac_address", "MAC addresses", ratio("mac_address", _MAC, None)),
        Hit("ip_address", "IPv4/IPv6 addresses", ratio("ip_address", _IP, _ip)),
        Hit("credit_card", "Luhn-valid card numbers", ratio("credit_card", _CARD, _luhn_card)),
        Hit("iban", "mod-97 valid IBANs", ratio("iban", _IBAN, _iban)),
        Hit("phone", "valid phone numbers", ratio("phone", _PHONE, phone)),
        Hit("geolocation", "lat/lon pairs in range", ratio("geolocation", _GEO_PAIR, _geo_pair)),
        Hit("street_address", "street + house number", ratio("street_address", _STREET, None)),
    ]
    hits.append(
        _national_id_hit(
            values, rng, needed=HINTED_THRESHOLD if hint == "national_id" else THRESHOLD
        )
    )
    postal = _validated_ratio(values, _POSTAL_DISTINCT, None, rng)
    if hint == "postal_code":
        postal += _validated_ratio(values, _POSTAL_DIGITS, None, rng)
    hits.append(Hit("postal_code", "postal code layouts", postal))
    hits.append(_detect_person_name(values, hint=hint))
    return hits


def _national_id_hit(values: pa.StringArray, rng: np.random.Generator, *, needed: float) -> Hit:
    """Share of values that are a valid national id of any scheme, naming the schemes found."""
    shapes = "|".join(f"(?:{shape})" for _, shape, _ in _NATIONAL_IDS)
    found: set[str] = set()

    def validate(value: str) -> bool:
        for scheme, shape, check in _NATIONAL_IDS:
            if re.match(shape, value) and (check is None or check(value)):
                found.add(scheme)
                return True
        return False

    ratio = _validated_ratio(values, shapes, validate, rng, needed=needed)
    schemes = ", ".join(scheme for scheme, _, _ in _NATIONAL_IDS if scheme in found)
    return Hit("national_id", schemes or "national id checksums", ratio)


def _geo_pair(value: str) -> bool:
    lat, lon = (float(part) for part in re.split(r"\s*[,;]\s*", value.strip("() ")))
    return -90 <= lat <= 90 and -180 <= lon <= 180 and not (lat == 0 and lon == 0)


# --- person names: shape + gazetteer -------------------------------------------------------------

_PARTICLES: Final = "van|von|de|der|den|da|di|del|la|le"
_NAME_SHAPE: Final = rf"^[{_LU}][{_L}'\-]+[.,]?(?:\s+(?:[{_LU}][{_L}'\-]*[.,]?|{_PARTICLES}))*$"


def _detect_person_name(values: pa.StringArray, *, hint: str | None) -> Hit:
    """Share of values shaped like names whose tokens include a known first or last name.

    The shape (capitalised words) alone would flag product names and cities; the gazetteer hit
    is what tells ``Ergonomic Chair`` from ``Anna Kowalska``. A header hint lowers the gazetteer
    share needed, since a surname column holds many names no list knows.
    """
    from tidegate.governance._gazetteer import NAMES  # noqa: PLC0415 - built on first use

    total = len(values)
    if total == 0:
        return Hit("person_name", "names", 0.0)
    words = pc.replace_substring_regex(pc.utf8_lower(values), r"[,.;]", " ")
    tokens = pc.utf8_split_whitespace(words)
    known = pc.is_in(pc.list_flatten(tokens), value_set=NAMES)
    rows = pc.list_parent_indices(tokens).filter(known)
    gazetteer = len(pc.unique(rows)) / total
    needed = 0.2 if hint == "person_name" else 0.5
    if gazetteer < needed:
        return Hit("person_name", f"{gazetteer:.0%} in name gazetteer", 0.0)
    shaped = pc.sum(pc.fill_null(pc.match_substring_regex(values, _NAME_SHAPE), False)).as_py()
    ratio = (shaped or 0) / total
    return Hit("person_name", f"capitalised names, {gazetteer:.0%} in name gazetteer", ratio)


# --- free text with embedded PII ---------------------------------------------------------------

_EMBEDDED: Final[tuple[tuple[str, str, Validator | None], ...]] = (
    ("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}", None),
    ("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b", _iban),
    ("credit_card", r"\b(?:\d[ -]?){12,18}\d\b", _luhn_card),
    ("national_id", r"\b\d{3}-\d{2}-\d{4}\b", _ssn),
    ("ip_address", r"\b\d{1,3}(?:\.\d{1,3}){3}\b", _ip),
    ("phone", r"(?:\+|\b00)\d[\d \-()]{6,16}\d", None),
    (
        "person_name",
        r"\b(?:Mr|Mrs|Ms|Dr|Herr|Frau|M|Mme|Mlle|Sr|Sra|Dhr|Mevr|Pan|Pani|Sig|Sig\.ra)\.?"
        rf"\s[{_LU}][{_LL}]+(?:\s[{_LU}][{_LL}]+)?",
        None,
    ),
)


def detect_free_text(values: pa.StringArray) -> Hit | None:
    """Evidence of PII embedded in prose: the share of rows holding a validated PII fragment.

    Only columns that read as text (four or more words of letters on average) are considered, so
    a column of bare emails is an email column, not free text.
    """
    total = len(values)
    if total == 0:
        return None
    tokens = pc.utf8_split_whitespace(values)
    flat = pc.list_flatten(tokens)
    wordy = pc.and_(pc.utf8_is_alpha(flat), pc.greater(pc.utf8_length(flat), 1))
    words = len(pc.list_parent_indices(tokens).filter(wordy)) / total
    if words < 4:
        return None
    flagged = np.zeros(total, dtype=bool)
    kinds: list[str] = []
    for kind, pattern, validator in _EMBEDDED:
        mask = pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(
            zero_copy_only=False
        )
        if not mask.any():
            continue
        rows = np.flatnonzero(mask)[:VALIDATE_CAP]
        if validator is not None:
            compiled = re.compile(pattern)
            texts = values.take(pa.array(rows)).to_pylist()
            keep = [any(validator(m.group(0)) for m in compiled.finditer(t)) for t in texts]
            rows = rows[np.array(keep, dtype=bool)]
        if len(rows):
            flagged[rows] = True
            kinds.append(kind)
    count = int(flagged.sum())
    if count < 3:
        return None
    return Hit("free_text_pii", "text with " + ", ".join(kinds), count / total)


# --- typed columns -------------------------------------------------------------------------------


def detect_geolocation_numbers(values: pa.Array, *, hint: str | None) -> Hit | None:
    """Floats are coordinates only under a geo header, inside range and with real decimals."""
    if hint != "geolocation" or len(values) == 0:
        return None
    as_float = pc.cast(values, pa.float64())
    in_range = pc.and_(pc.greater_equal(as_float, -180.0), pc.less_equal(as_float, 180.0))
    fractional = pc.not_equal(pc.round(as_float, 0), as_float)
    ratio = (pc.sum(pc.and_(in_range, fractional)).as_py() or 0) / len(values)
    return Hit("geolocation", "coordinates in range with decimals", ratio)


_DATE_FORMATS: Final = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d-%m-%Y")


def _as_dates(values: pa.Array) -> pa.Array | None:
    """Dates of a date, timestamp or date-string sample (None when they are not dates)."""
    if pa.types.is_date(values.type):
        return pc.cast(values, pa.date32())
    if pa.types.is_timestamp(values.type):
        if pc.any(
            pc.not_equal(pc.cast(pc.floor_temporal(values, unit="day"), values.type), values)
        ).as_py():
            return None  # a time of day: an event timestamp, not a birth date
        return pc.cast(values, pa.date32())
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return None
    best: pa.Array | None = None
    for fmt in _DATE_FORMATS:
        parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        if best is None or parsed.null_count < best.null_count:
            best = parsed
    if best is None or best.null_count > len(values) * 0.5:
        return None
    return pc.cast(best, pa.date32())


def detect_date_of_birth(values: pa.Array, *, hint: str | None, today: dt.date) -> Hit | None:
    """Birth dates: plausible ages (0-110 years) and a spread of decades, not event dates.

    Without a header hint the bar is higher: adults only (16-100 years) and a 20-year spread,
    which event dates (orders, logins, created_at) never have.
    """
    dates = _as_dates(values)
    if dates is None or len(dates) == 0:
        return None
    years = pc.year(dates).to_numpy(zero_copy_only=False)
    years = years[~np.isnan(years.astype(float))] if years.dtype.kind == "f" else years
    if len(years) < 3:
        return None
    spread = float(np.percentile(years, 90) - np.percentile(years, 10))
    if hint == "date_of_birth":
        plausible = float(np.mean((years >= today.year - 110) & (years <= today.year)))
        ok = spread >= 5
    else:
        plausible = float(np.mean((years >= today.year - 100) & (years <= today.year - 16)))
        ok = spread >= 20
    return Hit(
        "date_of_birth",
        f"plausible birth dates, {spread:.0f}-year spread",
        plausible if ok else 0.0,
    )
