"""The demo dataset: seeded bytes, valid check digits, the promised dirt, the example's types."""

from __future__ import annotations

import importlib
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pytest
import yaml

from tidegate.app.demo_data import CHUNK_ROWS, CUSTOMER_SCHEMA, ORDER_SCHEMA, DemoFiles, generate
from tidegate.app.profiling import file_batches
from tidegate.errors import ConfigError
from tidegate.governance.classify import classify_table

REPO = Path(__file__).resolve().parents[2]
ROWS = CHUNK_ROWS + 5_000  # crosses a chunk boundary, where ids and order numbers could slip
EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
EMAIL_INSIDE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_INSIDE = re.compile(r"(\+|\b0|\()\d[\d ()-]{6,}\d")
IBAN_LENGTHS = {"DE": 22, "FR": 27, "NL": 18, "GB": 22, "ES": 24, "PL": 28}
TYPES = {"int64": pa.int64(), "date32": pa.date32(), "string": pa.string()}
CUSTOMER_PII = {
    "customer_id": "none",
    "first_name": "person_name",
    "last_name": "person_name",
    "email": "email",
    "phone": "phone",
    "national_id": "national_id",
    "card_number": "credit_card",
    "iban": "iban",
    "ip_address": "ip_address",
    "birth_date": "date_of_birth",
    "street_address": "street_address",
    "city": "none",  # a city alone does not locate a person
    "postal_code": "postal_code",
    "country": "none",
    "signup_date": "none",
    "notes": "free_text_pii",
}
NATIONAL_ID_CHECKS = {
    "US": "stdnum.us.ssn",
    "DE": "stdnum.de.idnr",
    "FR": "stdnum.fr.nir",
    "NL": "stdnum.nl.bsn",
    "ES": "stdnum.es.dni",
    "PL": "stdnum.pl.pesel",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("demo"), rows=ROWS, seed=42)


@pytest.fixture(scope="module")
def customers(demo: DemoFiles) -> pa.Table:
    return read(demo.customers)


@pytest.fixture(scope="module")
def orders(demo: DemoFiles) -> pa.Table:
    return read(demo.orders, total=pa.decimal128(12, 2))


def read(path: Path, **types: pa.DataType) -> pa.Table:
    """Read with every column as text unless typed here, so nothing is coerced behind our back."""
    names = path.open(encoding="utf-8").readline().strip().replace('"', "").split(",")
    known = {"customer_id": pa.int64(), "order_id": pa.int64(), "order_date": pa.date32()}
    known |= {"birth_date": pa.date32(), "signup_date": pa.date32(), **types}
    column_types = {name: known.get(name, pa.string()) for name in names}
    options = pa_csv.ConvertOptions(column_types=column_types, strings_can_be_null=True)
    return pa_csv.read_csv(path, convert_options=options)


def share(count: int, total: int) -> float:
    return count / total


def any_null(table: pa.Table, columns: list[str]) -> int:
    """Rows with a null in at least one of ``columns``."""
    return int(len(table) - len(table.select(columns).drop_null()))


def luhn_ok(number: str) -> bool:
    digits = [int(ch) for ch in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_data(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", rows=3_000, seed=7)
    again = generate(tmp_path / "b", rows=3_000, seed=7)
    other = generate(tmp_path / "c", rows=3_000, seed=8)

    assert first.customers.read_bytes() == again.customers.read_bytes()
    assert first.orders.read_bytes() == again.orders.read_bytes()
    assert first.order_rows == again.order_rows
    assert first.customers.read_bytes() != other.customers.read_bytes()
    assert first.orders.read_bytes() != other.orders.read_bytes()


def test_row_counts_match_the_request_and_the_result(
    demo: DemoFiles, customers: pa.Table, orders: pa.Table
) -> None:
    assert demo.customers.name == "customers.csv"
    assert demo.orders.name == "orders.csv"
    assert demo.customer_rows == customers.num_rows == ROWS
    assert demo.order_rows == orders.num_rows
    assert 1.8 * ROWS < orders.num_rows < 2.2 * ROWS  # about two orders per customer
    assert orders["order_id"].to_pylist() == list(range(1, orders.num_rows + 1))


def test_zero_rows_gives_header_only_files_and_negative_rows_is_a_config_error(
    tmp_path: Path,
) -> None:
    empty = generate(tmp_path, rows=0)
    assert empty.customer_rows == empty.order_rows == 0
    assert empty.customers.read_text(encoding="utf-8").startswith('"customer_id","first_name"')
    assert len(empty.customers.read_text(encoding="utf-8").splitlines()) == 1

    with pytest.raises(ConfigError, match="non-negative") as caught:
        generate(tmp_path, rows=-1)
    assert caught.value.hint


def test_card_numbers_pass_the_luhn_check(customers: pa.Table) -> None:
    cards = customers["card_number"].to_pylist()[:20_000]
    plain = [re.sub(r"[ -]", "", card) for card in cards]

    assert all(len(card) == 16 and card.isdigit() for card in plain)
    assert all(card[0] in "45" for card in plain)
    assert all(luhn_ok(card) for card in plain)
    assert not luhn_ok(plain[0][:15] + str((int(plain[0][15]) + 1) % 10))  # the check can fail
    assert any(" " in card for card in cards)  # some are printed in groups
    assert any("-" in card for card in cards)


def test_ibans_have_valid_mod97_check_digits_for_the_customers_country(
    customers: pa.Table,
) -> None:
    rows = customers.select(["iban", "country"]).to_pylist()
    checked = 0
    for row in rows[:20_000]:
        iban, country = row["iban"], row["country"]
        if country in (None, "US"):
            continue
        compact = iban.replace(" ", "")
        assert compact[:2] == country
        assert len(compact) == IBAN_LENGTHS[country]
        assert iban_ok(compact), iban
        checked += 1
    assert checked > 10_000
    assert {row["iban"] for row in rows if row["country"] == "US"} == {None}
    german = next(r["iban"] for r in rows if r["country"] == "DE").replace(" ", "")
    assert not iban_ok("DE00" + german[4:])


def test_about_one_percent_of_customers_are_dirty_in_each_way(customers: pa.Table) -> None:
    n = customers.num_rows
    required = ["customer_id", "last_name", "email", "country", "signup_date"]
    for column in required:
        assert customers[column].null_count > 0, column
    null_rows = any_null(customers, required)
    emails = [e.strip().lower() for e in customers["email"].to_pylist() if e is not None]
    malformed = sum(1 for e in emails if not EMAIL.match(e))
    ids = customers["customer_id"].drop_null()
    duplicates = len(ids) - len(pc.unique(ids))
    future = pc.sum(
        pc.greater(customers["signup_date"], pa.scalar(date.today())).cast(pa.int64())
    ).as_py()

    for count in (null_rows, malformed, duplicates, future):
        assert 0.0015 < share(count, n) < 0.0035  # each of four kinds gets a quarter of 1%
    assert 0.008 < share(null_rows + malformed + duplicates + future, n) < 0.012


def test_about_one_percent_of_orders_are_dirty_in_each_way(orders: pa.Table) -> None:
    n = orders.num_rows
    null_rows = any_null(orders, ["customer_id", "order_date", "status"])
    negative = pc.sum(pc.less(orders["total"], 0).cast(pa.int64())).as_py()
    future = pc.sum(
        pc.greater(orders["order_date"], pa.scalar(date.today())).cast(pa.int64())
    ).as_py()

    for count in (null_rows, negative, future):
        assert 0.002 < share(count, n) < 0.0045  # each of three kinds gets a third of 1%
    assert orders["total"].null_count == 0
    assert str(orders["total"].type) == "decimal128(12, 2)"


def test_orders_belong_to_generated_customers(customers: pa.Table, orders: pa.Table) -> None:
    known = set(customers["customer_id"].drop_null().to_pylist())
    referenced = set(orders["customer_id"].drop_null().to_pylist())
    orphans = referenced - known  # orders of customers whose id was blanked
    assert len(orphans) < 0.001 * len(known)
    assert len(referenced) > 0.8 * len(known)  # Poisson(2): about 86% of customers order
    assert set(orders["currency"].to_pylist()) == {"USD", "GBP", "EUR", "PLN"}


def test_about_five_percent_of_notes_leak_an_email_or_phone(customers: pa.Table) -> None:
    notes = customers["notes"].to_pylist()
    with_email = [note for note in notes if note and EMAIL_INSIDE.search(note)]
    with_phone = [note for note in notes if note and PHONE_INSIDE.search(note)]

    assert 0.04 < share(len(with_email) + len(with_phone), len(notes)) < 0.06
    assert len(with_email) > 0.3 * (len(with_email) + len(with_phone))
    assert len(with_phone) > 0.3 * (len(with_email) + len(with_phone))
    assert all(not note.startswith(("@", "+")) for note in with_email + with_phone)  # in prose
    assert 0.35 < share(notes.count(None), len(notes)) < 0.45


def test_the_content_looks_like_people_from_several_countries(
    demo: DemoFiles, customers: pa.Table
) -> None:
    first_names = set(customers["first_name"].drop_null().to_pylist())
    last_names = set(customers["last_name"].drop_null().to_pylist())
    assert {"Zoë", "Łukasz"} <= first_names
    assert {"Müller", "García", "O'Brien"} <= last_names
    assert set(customers["country"].drop_null().to_pylist()) == set(IBAN_LENGTHS) | {"US"}
    ips = customers["ip_address"].to_pylist()
    assert 0.08 < share(sum(1 for ip in ips if ":" in ip), len(ips)) < 0.12
    phones = customers["phone"].to_pylist()
    assert any(p.startswith("+") for p in phones)
    assert any(p.startswith("0") for p in phones)  # national formats too
    assert any(re.fullmatch(r"\d{3}-\d{2}-\d{4}", i) for i in customers["national_id"].to_pylist())
    text = demo.customers.read_text(encoding="utf-8")
    assert ", Apt " in text  # quoted commas inside a field
    assert (
        '"Upgraded to the ""Pro"" plan after the free trial."' in text
    )  # quotes are doubled, not broken


def test_the_example_pipeline_types_parse_the_file(demo: DemoFiles) -> None:
    spec = yaml.safe_load((REPO / "examples" / "customers" / "pipeline.yaml").read_text())
    declared = spec["source"]["columns"]
    assert set(declared.values()) <= set(TYPES)

    table = pa_csv.read_csv(
        demo.customers,
        convert_options=pa_csv.ConvertOptions(
            column_types={name: TYPES[kind] for name, kind in declared.items()}
        ),
        read_options=pa_csv.ReadOptions(block_size=1 << 20),  # many blocks: types must hold
    )

    assert table.num_rows == ROWS
    for name, kind in declared.items():
        assert table.schema.field(name).type == TYPES[kind]
    postal = table["postal_code"].to_pylist()
    assert any(p.startswith("0") for p in postal if p)  # leading zeros kept as text


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("small"), rows=20_000, seed=3)


def test_the_classifier_finds_the_pii_type_of_every_customer_column(
    small_demo: DemoFiles,
) -> None:
    """What `tidegate classify customers.csv` (and the demo) reports, column by column."""
    batches, _ = file_batches(small_demo.customers, [])
    verdicts = {v.column: str(v.pii_type) for v in classify_table(batches)}

    assert verdicts == CUSTOMER_PII
    assert list(verdicts) == CUSTOMER_SCHEMA.names  # the CSV schema is the pipeline's


def test_the_classifier_finds_no_pii_in_orders(small_demo: DemoFiles) -> None:
    batches, _ = file_batches(small_demo.orders, [])
    verdicts = {v.column: str(v.pii_type) for v in classify_table(batches)}

    assert verdicts == dict.fromkeys(ORDER_SCHEMA.names, "none")


def test_national_ids_pass_their_countrys_checksum(customers: pa.Table) -> None:
    rows = customers.select(["national_id", "country", "birth_date"]).to_pylist()[:30_000]
    by_country: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_country.setdefault(row["country"] or "", []).append(row)
    by_country.pop("", None)  # rows whose country was blanked on purpose

    for country, module in NATIONAL_ID_CHECKS.items():
        checker = importlib.import_module(module)
        ids = [str(row["national_id"]) for row in by_country[country]]
        assert all(checker.is_valid(i) for i in ids), country
        if country != "US":  # an SSN has no check digit, only issuance rules
            typo = str(int(ids[0][0]) % 9 + 1) + ids[0][1:]
            assert not checker.is_valid(typo), country
    pesel = importlib.import_module("stdnum.pl.pesel")
    assert all(pesel.get_birth_date(r["national_id"]) == r["birth_date"] for r in by_country["PL"])
    nino = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?(\d\d ?){3}[A-D]$")
    ninos = [str(row["national_id"]) for row in by_country["GB"]]
    assert all(
        nino.match(i) and i[:2] not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"} for i in ninos
    )
    assert any(" " in i for i in ninos)  # as printed on the card, too


def test_the_countries_table_names_every_customer_country_once(
    demo: DemoFiles, customers: pa.Table
) -> None:
    countries = read(demo.countries)

    assert demo.countries.name == "countries.csv"
    assert countries.column_names == ["code", "name", "region"]
    codes = countries["code"].to_pylist()
    assert len(codes) == len(set(codes))
    assert set(customers["country"].drop_null().to_pylist()) - {""} == set(codes)
    assert dict(zip(codes, countries["name"].to_pylist(), strict=True))["DE"] == "Germany"
    assert countries.filter(pc.equal(countries["code"], "US"))["region"].to_pylist() == [
        "North America"
    ]
