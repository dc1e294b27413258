"""The demo dataset: seeded, realistic customer and order CSV files with a little dirt, and the
small ``countries.csv`` reference table the example pipeline's ``sql`` step joins.

The example pipeline, the quick tour and the load benchmark all need data that looks like a
real customer table: names from several cultures (non-ASCII included), personal data worth
masking (emails, phones, national ids, Luhn-valid card numbers, mod-97-valid IBANs, IP
addresses, free-text notes that sometimes leak an email or a phone number) and about 1% dirty
rows for quality rules to catch (nulls in required fields, malformed emails, duplicate ids,
dates in the future, negative order totals).

Everything is generated column-wise with numpy and pyarrow, chunk by chunk, so a million
customers take seconds and memory stays bounded by the chunk size. Each chunk draws from its
own generator seeded by ``(seed, chunk number)``: the same seed gives byte-identical files.
Nothing depends on today's date; "future" dates lie about a century ahead.

Contact details point nowhere real: emails use reserved ``example`` domains and US and UK
phone numbers sit in the ranges set aside for fiction, so a demo alert can never reach anyone.
"""

from __future__ import annotations

import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import structlog

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CHUNK_ROWS",
    "COUNTRY_SCHEMA",
    "CUSTOMER_SCHEMA",
    "ORDER_SCHEMA",
    "DemoFiles",
    "generate",
]

log = structlog.get_logger(__name__)

CHUNK_ROWS = 200_000
"""Rows generated and written at a time; bounds memory whatever the requested size."""

DIRTY_RATE = 0.01
"""Share of rows carrying one deliberate defect, split evenly between the defect kinds."""

ORDERS_PER_CUSTOMER = 2.0
"""Mean of the Poisson number of orders per customer (some customers never order)."""

CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("national_id", pa.string()),
        ("card_number", pa.string()),
        ("iban", pa.string()),
        ("ip_address", pa.string()),
        ("birth_date", pa.date32()),
        ("street_address", pa.string()),
        ("city", pa.string()),
        ("postal_code", pa.string()),
        ("country", pa.string()),
        ("signup_date", pa.date32()),
        ("notes", pa.string()),
    ]
)
ORDER_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("order_date", pa.date32()),
        ("total", pa.decimal128(12, 2)),
        ("currency", pa.string()),
        ("status", pa.string()),
    ]
)
COUNTRY_SCHEMA = pa.schema([("code", pa.string()), ("name", pa.string()), ("region", pa.string())])

_EPOCH = date(1970, 1, 1)
_BIRTH_FIRST = (date(1940, 1, 1) - _EPOCH).days
_BIRTH_LAST = (date(2006, 12, 31) - _EPOCH).days
_SIGNUP_FIRST = (date(2015, 1, 1) - _EPOCH).days
_SIGNUP_LAST = (date(2024, 12, 31) - _EPOCH).days
_ORDER_LAST = (date(2025, 6, 30) - _EPOCH).days
_CENTURY_DAYS = 36_524  # shifts a date ~100 years ahead: a typo'd year, always "in the future"

FIRST_NAMES = (
    "James", "Mary", "Olivia", "Liam", "Emma", "Oliver", "Charlotte", "Harry", "Amelia",
    "Zoë", "Jürgen", "Lena", "Felix", "Anna", "Chloé", "Léa", "Théo", "Hugo", "Manon",
    "Daan", "Sanne", "Bram", "Fleur", "Lucía", "José", "María", "Sofía", "Alejandro",
    "Łukasz", "Zofia", "Małgorzata", "Piotr", "Katarzyna", "Aisha", "Mohammed", "Priya",
    "Arjun", "Wei", "Mei", "Hiroshi", "Yuki", "Oluwaseun", "Chinedu", "Siobhán", "Seán",
    "Björn", "Søren", "João", "Mateo", "Ines",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies", "Evans", "O'Brien",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Martin", "Bernard", "Dubois",
    "Lefèvre", "Moreau", "de Vries", "van den Berg", "Jansen", "Bakker", "García",
    "Fernández", "González", "Rodríguez", "López", "Nowak", "Kowalski", "Wiśniewski",
    "Wójcik", "Zieliński", "Nguyễn", "Kim", "Patel", "Singh", "Okafor", "Haddad",
    "Yamamoto", "Chen", "Dvořák", "Søgaard",
)  # fmt: skip
EMAIL_DOMAINS = (
    "example.com", "example.org", "example.net", "mail.example", "inbox.example",
    "post.example", "webmail.example",
)  # fmt: skip


@dataclass(frozen=True)
class _Country:
    """What varies by country: places, number formats, currency and IBAN layout."""

    code: str
    name: str
    region: str
    weight: float
    currency: str
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    number_first: bool  # "12 Main St" rather than "Hauptstraße 12"
    postal: str
    phones: tuple[str, ...]
    iban_bban: str | None  # pattern of the domestic account part; None: no IBAN


# Pattern characters: '#' a digit, '^' a digit 2-9, '?' an upper-case letter, '*' a hex digit;
# anything else is literal. US 555-01xx, UK 020 7946 0xxx / 07700 900xxx are fiction ranges.
COUNTRIES = (
    _Country(
        "US", "United States", "North America", 0.25, "USD",
        ("New York", "Chicago", "Austin", "Seattle", "Denver", "Boston"),
        ("Main St", "Oak Avenue", "Maple Drive", "Sunset Blvd", "Elm Street"),
        True, "#####",
        ("+1^##55501##", "(^##) 555-01##", "^##-555-01##"),
        None,
    ),
    _Country(
        "GB", "United Kingdom", "Northern Europe", 0.15, "GBP",
        ("London", "Manchester", "Bristol", "Leeds", "Edinburgh", "Cardiff"),
        ("High Street", "Church Lane", "Station Road", "Victoria Road", "Mill Lane"),
        True, "??# #??",
        ("+4420 7946 0###", "020 7946 0###", "07700 900###", "+447700900###"),
        "????##############",
    ),
    _Country(
        "DE", "Germany", "Western Europe", 0.20, "EUR",
        ("Berlin", "München", "Köln", "Hamburg", "Düsseldorf", "Leipzig"),
        ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Lindenallee"),
        False, "#####",
        ("+4930#######", "030 #######", "+49 151 ########", "0151 ########"),
        "##################",
    ),
    _Country(
        "FR", "France", "Western Europe", 0.15, "EUR",
        ("Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Saint-Étienne"),
        ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue des Écoles"),
        True, "#####",
        ("+336########", "06 ## ## ## ##", "01 ## ## ## ##"),
        "#######################",
    ),
    _Country(
        "NL", "Netherlands", "Western Europe", 0.10, "EUR",
        ("Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen"),
        ("Kerkstraat", "Dorpsstraat", "Molenweg", "Prinsengracht", "Stationsplein"),
        False, "#### ??",
        ("+316########", "06-########", "020 ### ####"),
        "????##########",
    ),
    _Country(
        "ES", "Spain", "Southern Europe", 0.08, "EUR",
        ("Madrid", "Barcelona", "Sevilla", "València", "Málaga", "Bilbao"),
        ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Paseo del Prado", "Calle Real"),
        False, "#####",
        ("+346########", "6## ### ###", "91 ### ## ##"),
        "####################",
    ),
    _Country(
        "PL", "Poland", "Eastern Europe", 0.07, "PLN",
        ("Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"),
        ("ulica Długa", "Marszałkowska", "ulica Polna", "Aleje Jerozolimskie"),
        False, "##-###",
        ("+485########", "5## ### ###", "22 ### ## ##"),
        "########################",
    ),
)  # fmt: skip

_BANK_CODES = {
    "GB": ("NWBK", "BARC", "HBUK", "LOYD", "MIDL"),
    "NL": ("ABNA", "INGB", "RABO", "TRIO"),
}
_PLAIN_NOTES = (
    "Prefers to be contacted by email rather than phone.",
    "Called about a late delivery; courier had the wrong address, resolved.",
    "VIP customer since the launch, please handle with care.",
    "Asked to be removed from the newsletter.",
    "Requested a copy of the last invoice for their accountant.",
    "Moved house in the spring, address updated.",
    'Upgraded to the "Pro" plan after the free trial.',
    "Complained about damaged packaging, offered a 10% voucher.",
    "Pays by bank transfer only, never by card.",
    "Sends gift orders that ship to a different address.",
)
_CONTACT_NOTES = (
    ("Customer gave an alternative contact for deliveries: ", "."),
    ("Customer asked us to call back on ", " before 6pm."),
    ("Please CC ", " on all invoices from now on."),
    ("Reached by phone at ", ", prefers mornings."),
    ("Forwarded complaint from ", " regarding the refund."),
)
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FOLD = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae"})  # letters NFKD cannot split
_STATUSES = ("delivered", "shipped", "paid", "placed", "cancelled", "refunded")
_STATUS_WEIGHTS = (0.55, 0.12, 0.10, 0.08, 0.10, 0.05)
_CUSTOMER_DEFECTS = ("null_required", "malformed_email", "duplicate_id", "future_signup")
_ORDER_DEFECTS = ("null_required", "negative_total", "future_order")


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`generate` wrote the demo files and how many rows each holds."""

    customers: Path
    orders: Path
    customer_rows: int
    order_rows: int
    countries: Path


def generate(out_dir: Path, *, rows: int = 100_000, seed: int = 42) -> DemoFiles:
    """Write ``customers.csv`` (``rows`` rows), ``orders.csv`` and ``countries.csv`` (one row
    per country the customers live in) into ``out_dir``.

    The same ``seed`` and ``rows`` give byte-identical files. About 1% of the rows of each
    file carry one deliberate defect (see the module docstring).
    """
    if rows < 0:
        raise ConfigError(
            "the demo dataset needs a non-negative number of rows, got " + str(rows),
            location="rows",
            hint="Ask for 0 or more rows, e.g. rows=100000.",
        )
    out_dir = Path(out_dir)
    customers_path = out_dir / "customers.csv"
    orders_path = out_dir / "orders.csv"
    countries_path = out_dir / "countries.csv"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        order_rows = _write(customers_path, orders_path, rows=rows, seed=seed)
        pa_csv.write_csv(_countries(), countries_path)
    except OSError as exc:
        raise ConfigError(
            "cannot write the demo data: " + (exc.strerror or type(exc).__name__),
            location=str(exc.filename or out_dir),
            hint="Choose a folder you can write to, with room for about 330 MB per million rows.",
        ) from exc
    log.info("demo_data_generated", folder=str(out_dir), customers=rows, orders=order_rows)
    return DemoFiles(
        customers=customers_path,
        orders=orders_path,
        customer_rows=rows,
        order_rows=order_rows,
        countries=countries_path,
    )


def _countries() -> pa.Table:
    """The reference table of the countries customers live in: code, English name, region."""
    return pa.Table.from_pylist(
        [{"code": c.code, "name": c.name, "region": c.region} for c in COUNTRIES],
        schema=COUNTRY_SCHEMA,
    )


def _write(customers_path: Path, orders_path: Path, *, rows: int, seed: int) -> int:
    """Generate chunk after chunk, writing one while making the next; return the order count."""
    import numpy as np  # noqa: PLC0415 - heavy, only the demo needs it

    order_rows = 0
    with (
        pa_csv.CSVWriter(customers_path, CUSTOMER_SCHEMA) as customers_out,
        pa_csv.CSVWriter(orders_path, ORDER_SCHEMA) as orders_out,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-csv") as pool,
    ):
        # Arrow's CSV writer releases the GIL: writing chunk k overlaps generating chunk k+1,
        # and waiting before the next submit keeps at most two chunks in memory.
        pending: list[Future[None]] = []
        for chunk, first in enumerate(range(0, rows, CHUNK_ROWS)):
            rng = np.random.default_rng([seed, chunk])
            n = min(CHUNK_ROWS, rows - first)
            customers, ids, signup, country = _customers(rng, first_id=first + 1, n=n)
            orders = _orders(rng, ids, signup, country, first_order_id=order_rows + 1)
            order_rows += orders.num_rows
            for done in pending:
                done.result()
            pending = [
                pool.submit(customers_out.write_table, customers),
                pool.submit(orders_out.write_table, orders),
            ]
        for done in pending:
            done.result()
    return order_rows


def _customers(
    rng: np.random.Generator, *, first_id: int, n: int
) -> tuple[pa.Table, NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
    """One chunk of customers, plus its ids (before nulling), signup days and countries."""
    import numpy as np  # noqa: PLC0415

    country = rng.choice(len(COUNTRIES), size=n, p=[c.weight for c in COUNTRIES])
    first_i = rng.integers(0, len(FIRST_NAMES), n)
    last_i = rng.integers(0, len(LAST_NAMES), n)
    first_name = pc.take(pa.array(FIRST_NAMES), first_i)
    last_name = pc.take(pa.array(LAST_NAMES), last_i)
    email = _emails(rng, first_i, last_i, n)
    phone = _by_country(rng, country, lambda c: c.phones)
    postal_code = _by_country(rng, country, lambda c: (c.postal,))
    birth = rng.integers(_BIRTH_FIRST, _BIRTH_LAST + 1, n).astype(np.int32)
    # sqrt skews signups towards recent years, like a growing business
    span = _SIGNUP_LAST - _SIGNUP_FIRST
    signup = (_SIGNUP_FIRST + np.sqrt(rng.random(n)) * span).astype(np.int32)

    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    defect = _defects(rng, n, len(_CUSTOMER_DEFECTS))
    dup = np.flatnonzero(defect == _CUSTOMER_DEFECTS.index("duplicate_id"))
    back = rng.integers(1, 1000, dup.size)
    source = np.where(dup - back >= 0, dup - back, dup + back) % max(n, 1)
    ids[dup] = first_id + source
    future = defect == _CUSTOMER_DEFECTS.index("future_signup")
    malformed = defect == _CUSTOMER_DEFECTS.index("malformed_email")
    notes = _notes(rng, email, phone, n)
    columns: dict[str, Any] = {
        "customer_id": pa.array(ids),
        "first_name": first_name,
        "last_name": last_name,
        "email": _replace_rows(email, malformed, lambda sub: _malform_emails(rng, sub)),
        "phone": phone,
        "national_id": _national_ids(rng, country, birth),
        "card_number": _card_numbers(rng, n),
        "iban": _ibans(rng, country),
        "ip_address": _ip_addresses(rng, n),
        "birth_date": pa.array(birth, type=pa.date32()),
        "street_address": _street_addresses(rng, country),
        "city": _pick_per_country(rng, country, lambda c: c.cities),
        "postal_code": postal_code,
        "country": pc.take(pa.array([c.code for c in COUNTRIES]), country),
        "signup_date": pa.array(np.where(future, signup + _CENTURY_DAYS, signup), pa.date32()),
        "notes": notes,
    }
    _null_required(
        rng, columns, defect == 0, ("customer_id", "last_name", "email", "country", "signup_date")
    )
    return pa.table(columns, schema=CUSTOMER_SCHEMA), ids, signup, country


def _orders(
    rng: np.random.Generator,
    customer_ids: NDArray[np.int64],
    signup: NDArray[np.int32],
    country: NDArray[np.int64],
    first_order_id: int,
) -> pa.Table:
    """The orders of one chunk of customers: Poisson-many each, dated after their signup.

    Orders keep the customer's id even where the customer row lost it (a null-id defect):
    those orders become orphans, as they would in a real export.
    """
    import numpy as np  # noqa: PLC0415

    per_customer = rng.poisson(ORDERS_PER_CUSTOMER, len(signup))
    owner = np.repeat(np.arange(len(signup)), per_customer)
    n = len(owner)
    start = signup[owner].astype(np.int64)
    order_day = start + (rng.random(n) * (_ORDER_LAST - start + 1)).astype(np.int64)
    by_date = np.argsort(order_day, kind="stable")  # order ids follow time, as in a shop
    owner, order_day = owner[by_date], order_day[by_date]
    cents = np.round(rng.lognormal(mean=8.0, sigma=1.0, size=n)).astype(np.int64) + 99
    defect = _defects(rng, n, len(_ORDER_DEFECTS))
    negative = defect == _ORDER_DEFECTS.index("negative_total")
    order_day[defect == _ORDER_DEFECTS.index("future_order")] += _CENTURY_DAYS
    cents[negative] *= -1
    # a decimal128 is a 16-byte two's-complement integer: cents plus their sign extension
    unscaled = np.stack([cents, cents >> 63], axis=1)
    total = pa.Array.from_buffers(pa.decimal128(12, 2), n, [None, pa.py_buffer(unscaled)])
    country_i = country[owner]
    currencies = pa.array([c.currency for c in COUNTRIES] + ["USD", "EUR", "GBP"])
    foreign = rng.random(n) < 0.03  # a few customers pay in another currency
    currency_i = np.where(foreign, len(COUNTRIES) + rng.integers(0, 3, n), country_i)
    columns: dict[str, Any] = {
        "order_id": pa.array(np.arange(first_order_id, first_order_id + n, dtype=np.int64)),
        "customer_id": pa.array(customer_ids[owner]),
        "order_date": pa.array(order_day.astype(np.int32), pa.date32()),
        "total": total,
        "currency": pc.take(currencies, currency_i),
        "status": pc.take(pa.array(_STATUSES), rng.choice(len(_STATUSES), n, p=_STATUS_WEIGHTS)),
    }
    _null_required(rng, columns, defect == 0, ("customer_id", "order_date", "status"))
    return pa.table(columns, schema=ORDER_SCHEMA)


def _defects(rng: np.random.Generator, n: int, kinds: int) -> NDArray[np.int64]:
    """Per row: -1 for a clean row, else the index of its one defect kind."""
    import numpy as np  # noqa: PLC0415

    dirty = rng.random(n) < DIRTY_RATE
    return np.where(dirty, rng.integers(0, kinds, n), -1)


def _null_required(
    rng: np.random.Generator,
    columns: dict[str, Any],
    rows: NDArray[np.bool_],
    names: tuple[str, ...],
) -> None:
    """Blank one of the required ``names`` in each of ``rows``."""
    which = rng.integers(0, len(names), len(rows))
    for i, name in enumerate(names):
        mask = pa.array(rows & (which == i))
        column = columns[name]
        columns[name] = pc.if_else(mask, pa.scalar(None, column.type), column)


def _ascii_handle(name: str) -> str:
    """``"Łukasz"`` -> ``"lukasz"``, ``"O'Brien"`` -> ``"obrien"``: the part before an @."""
    folded = name.lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


def _emails(
    rng: np.random.Generator, first_i: NDArray[np.int64], last_i: NDArray[np.int64], n: int
) -> pa.Array:
    """``first.last42@domain`` in a few shapes; a few in odd case or padded with spaces."""

    first = pc.take(pa.array([_ascii_handle(x) for x in FIRST_NAMES]), first_i)
    last = pc.take(pa.array([_ascii_handle(x) for x in LAST_NAMES]), last_i)
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    shape = rng.integers(0, 4, n)
    head = pc.if_else(pa.array(shape == 1), initial, first)
    sep = pc.take(pa.array([".", "", "_", ""]), shape)
    number = rng.integers(1, 100, n)
    suffix = pc.if_else(
        pa.array(rng.random(n) < 0.3), pc.cast(pa.array(number), pa.string()), pa.scalar("")
    )
    domain = pc.take(pa.array(EMAIL_DOMAINS), rng.integers(0, len(EMAIL_DOMAINS), n))
    email = pc.binary_join_element_wise(head, sep, last, suffix, "@", domain, "")
    # how people really type: some Capitalised, some with stray spaces (cleaned by the pipeline)
    noise = rng.random(n)
    email = _replace_rows(email, noise < 0.03, pc.utf8_capitalize)
    return _replace_rows(
        email,
        (noise >= 0.03) & (noise < 0.04),
        lambda sub: pc.binary_join_element_wise(" ", sub, " ", ""),
    )


def _replace_rows(
    values: pa.Array, rows: NDArray[np.bool_], change: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """``values`` with ``change`` applied to the selected rows only (cheap for rare changes)."""
    import numpy as np  # noqa: PLC0415

    changed = change(values.take(pa.array(np.flatnonzero(rows))))
    return pc.replace_with_mask(values, pa.array(rows), changed)


def _malform_emails(rng: np.random.Generator, email: pa.Array) -> pa.Array:
    """Broken variants of each email: no @, a double @, no domain, a space inside."""
    kind = rng.integers(0, 4, len(email))
    broken = [
        pc.replace_substring(email, "@", " at "),
        pc.replace_substring(email, "@", "@@"),
        pc.replace_substring_regex(email, pattern=r"@.*$", replacement="@"),
        pc.replace_substring(email, ".", " ", max_replacements=1),
    ]
    result = broken[0]
    for i in range(1, len(broken)):
        result = pc.if_else(pa.array(kind == i), broken[i], result)
    return result


def _pattern(rng: np.random.Generator, pattern: str, n: int) -> NDArray[np.uint8]:
    """An ``(n, len(pattern))`` matrix of ASCII codes filled per pattern position."""
    import numpy as np  # noqa: PLC0415

    out = np.empty((n, len(pattern)), dtype=np.uint8)
    classes = {"#": b"0123456789", "^": b"23456789", "?": _LETTERS, "*": b"0123456789abcdef"}
    for ch in sorted(set(pattern)):  # loops over character classes, never over rows
        columns = [j for j, c in enumerate(pattern) if c == ch]
        alphabet = classes.get(ch)
        if alphabet is None:
            out[:, columns] = ord(ch)
        else:
            table = np.frombuffer(alphabet, dtype=np.uint8)
            draws = rng.integers(0, len(alphabet), (n, len(columns)), dtype=np.uint8)
            out[:, columns] = table[draws]
    return out


def _strings(chars: NDArray[np.uint8]) -> pa.Array:
    """A string array over the rows of an ASCII matrix, without a per-row copy."""
    import numpy as np  # noqa: PLC0415

    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _group_spaces(chars: NDArray[np.uint8], every: int, sep: str) -> NDArray[np.uint8]:
    """Insert ``sep`` between groups of ``every`` characters (``1234 5678 ...``)."""
    import numpy as np  # noqa: PLC0415

    n, width = chars.shape
    groups = (width - 1) // every
    out = np.full((n, width + groups), ord(sep), dtype=np.uint8)
    target = np.arange(width) + np.arange(width) // every
    out[:, target] = chars
    return out


def _assemble(n: int, parts: list[tuple[NDArray[np.int64], pa.Array]]) -> pa.Array:
    """Put per-group arrays (row indices, values) back in row order."""
    import numpy as np  # noqa: PLC0415

    if not parts:
        return pa.nulls(n, pa.string())
    rows = np.concatenate([p[0] for p in parts])
    values = pa.concat_arrays([p[1] for p in parts])
    return values.take(pa.array(np.argsort(rows, kind="stable")))


def _by_country(
    rng: np.random.Generator,
    country: NDArray[np.int64],
    patterns: Callable[[_Country], tuple[str, ...]],
) -> pa.Array:
    """One pattern-filled string per row, its pattern drawn from the row's country's list."""
    import numpy as np  # noqa: PLC0415

    parts = []
    for c, spec in enumerate(COUNTRIES):
        options = patterns(spec)
        rows = np.flatnonzero(country == c)
        choice = rng.integers(0, len(options), rows.size)
        for k, pattern in enumerate(options):
            sub = rows[choice == k]
            parts.append((sub, _strings(_pattern(rng, pattern, sub.size))))
    return _assemble(len(country), parts)


def _pick_per_country(
    rng: np.random.Generator,
    country: NDArray[np.int64],
    values: Callable[[_Country], tuple[str, ...]],
) -> pa.Array:
    """One value per row from the row's country's list (cities, streets)."""
    import numpy as np  # noqa: PLC0415

    lists = [values(c) for c in COUNTRIES]
    flat = pa.array([v for lst in lists for v in lst])
    sizes = np.array([len(lst) for lst in lists])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pick = starts[country] + (rng.random(len(country)) * sizes[country]).astype(np.int64)
    return pc.take(flat, pick)


def _street_addresses(rng: np.random.Generator, country: NDArray[np.int64]) -> pa.Array:
    """``12 Main St, Apt 4`` or ``Hauptstraße 12`` depending on the country."""
    import numpy as np  # noqa: PLC0415

    n = len(country)
    street = _pick_per_country(rng, country, lambda c: c.streets)
    number = pc.cast(pa.array(rng.integers(1, 250, n)), pa.string())
    number_first = np.array([c.number_first for c in COUNTRIES])[country]
    address = pc.if_else(
        pa.array(number_first),
        pc.binary_join_element_wise(number, street, " "),
        pc.binary_join_element_wise(street, number, " "),
    )
    # apartments give the file quoted commas
    apartment = (rng.random(n) < 0.15) & (country == 0)
    flat_no = pc.cast(pa.array(rng.integers(1, 40, n)), pa.string())
    with_apt = pc.binary_join_element_wise(address, ", Apt ", flat_no, "")
    return pc.if_else(pa.array(apartment), with_apt, address)


def _card_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """Visa/Mastercard-like 16-digit numbers with a valid Luhn check digit, some grouped."""
    import numpy as np  # noqa: PLC0415

    chars = np.empty((n, 16), dtype=np.uint8)
    chars[:, :15] = _pattern(rng, "4##############", n)
    mastercard = rng.random(n) < 0.4
    chars[mastercard, 0] = ord("5")
    chars[mastercard, 1] = rng.integers(ord("1"), ord("5") + 1, int(mastercard.sum()))
    digits = chars[:, :15].astype(np.int64) - ord("0")
    doubled = digits[:, 0::2] * 2  # 16-digit numbers double every even position from the left
    total = (doubled - 9 * (doubled > 9)).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    chars[:, 15] = (10 - total % 10) % 10 + ord("0")
    style = rng.random(n)
    return pc.if_else(
        pa.array(style < 0.15),
        _strings(_group_spaces(chars, 4, " ")),
        pc.if_else(pa.array(style < 0.25), _strings(_group_spaces(chars, 4, "-")), _strings(chars)),
    )


def _ibans(rng: np.random.Generator, country: NDArray[np.int64]) -> pa.Array:
    """IBANs with valid mod-97 check digits for the row's country; null where it has none."""
    import numpy as np  # noqa: PLC0415

    parts = []
    for c, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == c)
        if spec.iban_bban is None:
            parts.append((rows, pa.nulls(rows.size, pa.string())))
            continue
        bban = _pattern(rng, spec.iban_bban, rows.size)
        if spec.code in _BANK_CODES:
            codes = np.frombuffer("".join(_BANK_CODES[spec.code]).encode(), np.uint8)
            bban[:, :4] = codes.reshape(-1, 4)[
                rng.integers(0, len(_BANK_CODES[spec.code]), rows.size)
            ]
        if spec.code == "ES":
            bban[:, 8:10] = _ccc_check_digits(bban)
        # ISO 13616: BBAN + country + "00" read as digits (A=10..Z=35), check = 98 - mod 97
        tail = np.frombuffer((spec.code + "00").encode(), np.uint8)
        remainder = np.zeros(rows.size, dtype=np.int64)
        for column in [*bban.T, *(np.full(rows.size, t, np.uint8) for t in tail)]:
            letter = column >= ord("A")
            value = np.where(letter, column.astype(np.int64) - 55, column.astype(np.int64) - 48)
            remainder = (remainder * np.where(letter, 100, 10) + value) % 97
        check = 98 - remainder
        iban = np.empty((rows.size, 4 + bban.shape[1]), dtype=np.uint8)
        iban[:, :2] = np.frombuffer(spec.code.encode(), np.uint8)
        iban[:, 2] = check // 10 + ord("0")
        iban[:, 3] = check % 10 + ord("0")
        iban[:, 4:] = bban
        printed = rng.random(rows.size) < 0.25  # the paper form, in groups of four
        parts.append((rows[~printed], _strings(iban[~printed])))
        parts.append((rows[printed], _strings(_group_spaces(iban[printed], 4, " "))))
    return _assemble(len(country), parts)


def _ccc_check_digits(bban: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The two check digits of a Spanish account (CCC): bank+branch, then account number.

    Each is sum(digit * 2**position) mod 11 over ten digits (bank+branch padded with "00"),
    turned into 11 - remainder, except that remainders 0 and 1 stand for themselves.
    """
    import numpy as np  # noqa: PLC0415

    digits = bban.astype(np.int64) - ord("0")
    weights = 2 ** np.arange(10, dtype=np.int64) % 11
    out = np.empty((len(bban), 2), dtype=np.uint8)
    for k, part in enumerate((np.pad(digits[:, :8], ((0, 0), (2, 0))), digits[:, 10:20])):
        remainder = part @ weights % 11
        out[:, k] = np.where(remainder < 2, remainder, 11 - remainder) + ord("0")
    return out


def _national_ids(
    rng: np.random.Generator, country: NDArray[np.int64], birth: NDArray[np.int32]
) -> pa.Array:
    """Each row's national id as its country issues it, with valid check digits.

    Numbers that carry a birth date (the French NIR, the Polish PESEL) carry the customer's,
    and each country's ids come in the layouts people type them in (spaced or compact), so the
    classifier sees what a real export holds rather than random digits that fail every checksum.
    """
    import numpy as np  # noqa: PLC0415

    makers = {
        "US": _us_ssn,
        "GB": _gb_nino,
        "DE": _de_idnr,
        "FR": _fr_nir,
        "NL": _nl_bsn,
        "ES": _es_dni,
        "PL": _pl_pesel,
    }
    parts = []
    for c, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == c)
        for sub, chars in makers[spec.code](rng, birth[rows]):
            parts.append((rows[sub], _strings(chars)))
    return _assemble(len(country), parts)


_IdLayouts = list[tuple["NDArray[np.int64]", "NDArray[np.uint8]"]]
"""Row positions (within the country's rows) and the ASCII matrix of one layout of their ids."""


def _two_layouts(
    rng: np.random.Generator,
    chars: NDArray[np.uint8],
    alternative: Callable[..., Any],
    share: float,
) -> _IdLayouts:
    """``chars`` as is, except a ``share`` of rows rewritten by ``alternative`` (another layout)."""
    import numpy as np  # noqa: PLC0415

    other = rng.random(len(chars)) < share
    return [
        (np.flatnonzero(~other), chars[~other]),
        (np.flatnonzero(other), alternative(chars[other])),
    ]


def _with_separators(
    chars: NDArray[np.uint8], cuts: tuple[int, ...], sep: str
) -> NDArray[np.uint8]:
    """Insert ``sep`` before each position in ``cuts`` (``12345678901`` -> ``12 345 678 901``)."""
    import numpy as np  # noqa: PLC0415

    n, width = chars.shape
    out = np.full((n, width + len(cuts)), ord(sep), dtype=np.uint8)
    target = np.arange(width) + np.searchsorted(np.array(cuts), np.arange(width), side="right")
    out[:, target] = chars
    return out


def _ascii_digits(digits: NDArray[np.int64]) -> NDArray[np.uint8]:
    import numpy as np  # noqa: PLC0415

    return (digits + ord("0")).astype(np.uint8)


def _number_digits(values: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    """The ``width`` decimal digits of each value, most significant first."""
    import numpy as np  # noqa: PLC0415

    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def _us_ssn(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """``AAA-GG-SSSS``: areas 001-899 but 666 (and the areas of the famous misused numbers),
    group and serial never all zeros."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    areas = np.setdiff1d(np.arange(1, 900), [78, 123, 219, 457, 666])
    number = (
        areas[rng.integers(0, len(areas), n)] * 1_000_000
        + rng.integers(1, 100, n) * 10_000
        + rng.integers(1, 10_000, n)
    )
    chars = _with_separators(_ascii_digits(_number_digits(number, 9)), (3, 5), "-")
    return [(np.arange(n), chars)]


def _nino_prefixes() -> list[str]:
    """The two-letter prefixes HMRC issues: no D, F, I, Q, U, V; no O second; none reserved."""
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    reserved = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
    return [a + b for a in first for b in second if a + b not in reserved]


def _gb_nino(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """National Insurance numbers, ``QQ123456C`` or as printed, ``QQ 12 34 56 C``."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    prefixes = np.frombuffer("".join(_nino_prefixes()).encode(), np.uint8).reshape(-1, 2)
    chars = np.empty((n, 9), dtype=np.uint8)
    chars[:, :2] = prefixes[rng.integers(0, len(prefixes), n)]
    chars[:, 2:8] = _ascii_digits(rng.integers(0, 10, (n, 6)))
    chars[:, 8] = rng.integers(ord("A"), ord("D") + 1, n)
    return _two_layouts(rng, chars, lambda c: _with_separators(c, (2, 4, 6, 8), " "), 0.4)


def _de_idnr(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """Steuer-IdNr: 10 digits, no leading zero, exactly one digit twice; ISO 7064 check digit."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    body = rng.permuted(np.tile(np.arange(10, dtype=np.int64), (n, 1)), axis=1)
    rows = np.arange(n)
    copy_to = rng.integers(0, 10, n)  # one digit overwritten by another: nine distinct, one twice
    body[rows, copy_to] = body[rows, (copy_to + rng.integers(1, 10, n)) % 10]
    lead = np.argmax(body != 0, axis=1)  # swap the first non-zero digit to the front
    body[rows, 0], body[rows, lead] = body[rows, lead], body[rows, 0]
    product = np.full(n, 10, dtype=np.int64)
    for column in body.T:  # ISO 7064 MOD 11,10, one digit position at a time
        total = (column + product) % 10
        product = (np.where(total == 0, 10, total) * 2) % 11
    check = (11 - product) % 10
    chars = _ascii_digits(np.concatenate([body, check[:, None]], axis=1))
    return _two_layouts(rng, chars, lambda c: _with_separators(c, (2, 5, 8), " "), 0.3)


def _birth_parts(birth: NDArray[np.int32]) -> tuple[NDArray[np.int64], ...]:
    """Year, month (1-12) and day (1-31) of each birth date."""
    import numpy as np  # noqa: PLC0415

    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = days.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _fr_nir(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """NIR (numéro de sécurité sociale): sex, birth year and month, département, commune,
    birth order, then 97 minus the number mod 97; Corsica's 2A/2B count as 19/18."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    year, month, _ = _birth_parts(birth)
    departments = np.setdiff1d(np.arange(1, 96), [20])
    department = departments[rng.integers(0, len(departments), n)]
    corsica = rng.random(n) < 0.005
    department[corsica] = rng.integers(18, 20, int(corsica.sum()))  # 19 = 2A, 18 = 2B
    number = (
        rng.integers(1, 3, n) * 10**12
        + (year % 100) * 10**10
        + month * 10**8
        + department * 10**6
        + rng.integers(1, 1000, n) * 10**3
        + rng.integers(1, 1000, n)
    )
    key = 97 - number % 97
    chars = _ascii_digits(_number_digits(number * 100 + key, 15))
    chars[corsica, 5] = ord("2")
    chars[corsica, 6] = np.where(department[corsica] == 19, ord("A"), ord("B"))
    return _two_layouts(rng, chars, lambda c: _with_separators(c, (1, 3, 5, 7, 10, 13), " "), 0.5)


def _nl_bsn(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """BSN: nine digits passing the eleven test (weights 9..2, minus the last digit)."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    body = rng.integers(0, 10, (n, 8))
    body[:, 0] = rng.integers(1, 7, n)
    weighted = body @ np.arange(9, 1, -1)
    # a remainder of 10 has no check digit: nudge the last body digit (weight 2) until it fits
    while (stuck := weighted % 11 == 10).any():
        body[stuck, 7] = (body[stuck, 7] + 1) % 10
        weighted = body @ np.arange(9, 1, -1)
    chars = _ascii_digits(np.concatenate([body, (weighted % 11)[:, None]], axis=1))
    return _two_layouts(rng, chars, lambda c: _with_separators(c, (4, 6), "."), 0.2)


_DNI_LETTERS = b"TRWAGMYFPDXBNJZSQVHLCKE"


def _es_dni(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """DNI: eight digits and the letter of their remainder mod 23."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    number = rng.integers(100_000, 100_000_000, n)
    chars = np.empty((n, 9), dtype=np.uint8)
    chars[:, :8] = _ascii_digits(_number_digits(number, 8))
    chars[:, 8] = np.frombuffer(_DNI_LETTERS, np.uint8)[number % 23]
    return _two_layouts(rng, chars, lambda c: _with_separators(c, (8,), "-"), 0.2)


def _pl_pesel(rng: np.random.Generator, birth: NDArray[np.int32]) -> _IdLayouts:
    """PESEL: birth date (months +20 from 2000), serial with the sex digit, weighted check."""
    import numpy as np  # noqa: PLC0415

    n = len(birth)
    year, month, day = _birth_parts(birth)
    month = month + np.where(year >= 2000, 20, 0)
    number = (year % 100) * 10**8 + month * 10**6 + day * 10**4 + rng.integers(0, 10_000, n)
    digits = _number_digits(number, 10)
    check = (10 - digits @ np.array([1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10
    return [(np.arange(n), _ascii_digits(np.concatenate([digits, check[:, None]], axis=1)))]


def _ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    """Mostly IPv4, one in ten IPv6 in the documentation prefix."""

    octets = [pc.cast(pa.array(rng.integers(1, 255, n)), pa.string()) for _ in range(4)]
    v4 = pc.binary_join_element_wise(*octets, ".")
    return _replace_rows(
        v4,
        rng.random(n) < 0.1,
        lambda sub: _strings(_pattern(rng, "2001:db8:****:****:****:****:****:****", len(sub))),
    )


def _notes(rng: np.random.Generator, email: pa.Array, phone: pa.Array, n: int) -> pa.Array:
    """Free text: 40% empty, 5% mention the customer's email or phone inside a sentence."""
    import numpy as np  # noqa: PLC0415

    kind = rng.random(n)
    plain = pc.take(pa.array(_PLAIN_NOTES), rng.integers(0, len(_PLAIN_NOTES), n))
    leaky = np.flatnonzero(kind < 0.05)
    template = pa.array(rng.integers(0, len(_CONTACT_NOTES), leaky.size))
    prefix = pc.take(pa.array([t[0] for t in _CONTACT_NOTES]), template)
    suffix = pc.take(pa.array([t[1] for t in _CONTACT_NOTES]), template)
    rows = pa.array(leaky)
    contact = pc.if_else(
        pa.array(rng.random(leaky.size) < 0.5),
        pc.utf8_trim_whitespace(email.take(rows)),
        phone.take(rows),
    )
    sentence = pc.binary_join_element_wise(prefix, contact, suffix, "")
    notes = pc.replace_with_mask(plain, pa.array(kind < 0.05), sentence)
    return pc.if_else(pa.array(kind >= 0.60), pa.scalar(None, pa.string()), notes)
