"""Column lineage from the spec: the demo pipeline column by column, and each kind of step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tidegate import load_pipeline
from tidegate.app.lineage_cli import pipeline_lineage
from tidegate.lineage.columns import column_lineage, stronger
from tidegate.lineage.datasets import destination_dataset, source_datasets

if TYPE_CHECKING:
    from tidegate.lineage.columns import PipelineLineage

S, C = "source", "countries"
"""The two inputs of the demo: the customers CSV and the countries reference table."""

DEMO = {
    # output column: ({(input, input column): transformation on that edge}, overall)
    "customer_id": ({(S, "customer_id"): "identity"}, "identity"),
    "first_name": ({(S, "first_name"): "masked:fake"}, "masked:fake"),
    "last_name": ({(S, "last_name"): "masked:fake"}, "masked:fake"),
    "email": ({(S, "email"): "masked:hash"}, "masked:hash"),
    "phone": ({(S, "phone"): "masked:partial"}, "masked:partial"),
    "national_id": ({(S, "national_id"): "encrypted"}, "encrypted"),
    "card_number": ({(S, "card_number"): "encrypted"}, "encrypted"),
    "iban": ({(S, "iban"): "encrypted"}, "encrypted"),
    "birth_date": ({(S, "birth_date"): "masked:generalize"}, "masked:generalize"),
    "street_address": ({(S, "street_address"): "masked:redact"}, "masked:redact"),
    "city": ({(S, "city"): "identity"}, "identity"),
    "postal_code": ({(S, "postal_code"): "identity"}, "identity"),
    "country": ({(S, "country"): "derived"}, "derived"),
    "signup_date": ({(S, "signup_date"): "identity"}, "identity"),
    "notes": ({(S, "notes"): "masked:redact"}, "masked:redact"),
    "full_name": (
        {(S, "first_name"): "masked:fake", (S, "last_name"): "masked:fake"},
        "masked:fake",
    ),
    "email_domain": ({(S, "email"): "derived"}, "derived"),
    # the sql step: a rename, a join with renamed and kept columns, a derivation
    "last_login_ip": ({(S, "ip_address"): "renamed"}, "renamed"),
    "country_name": ({(C, "name"): "renamed"}, "renamed"),
    "region": ({(C, "region"): "identity"}, "identity"),
    "age_at_signup": (
        {(S, "birth_date"): "masked:generalize", (S, "signup_date"): "derived"},
        "masked:generalize",
    ),
}


def edges(lineage: PipelineLineage, column: str) -> dict[tuple[str, str], str]:
    source = lineage.inputs[0]
    return {
        (S if item.dataset == source else Path(item.dataset.name).stem, item.column): (
            item.transformation
        )
        for item in lineage.column(column).inputs
    }


def test_the_demo_pipelines_column_lineage_matches_the_expected_mapping_column_by_column(
    demo: Path,
) -> None:
    lineage = pipeline_lineage(demo, [])

    assert [column.column for column in lineage.columns] == [
        "customer_id", "first_name", "last_name", "email", "phone", "national_id",
        "card_number", "iban", "birth_date", "street_address", "city", "postal_code",
        "country", "signup_date", "notes", "full_name", "email_domain", "last_login_ip",
        "country_name", "region", "age_at_signup",
    ]  # fmt: skip
    for column, (expected, overall) in DEMO.items():
        assert edges(lineage, column) == expected, column
        assert lineage.column(column).transformation == overall, column
    assert lineage.column("full_name").steps == ("clean", "enrich", "protect", "shape")
    assert lineage.gaps == ()
    source = lineage.inputs[0]
    assert {
        (S if i.dataset == source else Path(i.dataset.name).stem, i.column): (i.subtypes, i.steps)
        for i in lineage.indirect
    } == {
        (S, "country"): (("JOIN",), ("shape",)),  # the join key decides which rows match
        (C, "code"): (("JOIN",), ("shape",)),
    }
    folder = demo.parent.resolve()
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("file", str(folder / "data" / "customers.csv")),
        ("file", str(folder / "data" / "countries.csv")),
    ]
    assert lineage.output.namespace == f"duckdb://{folder / '.tidegate' / 'warehouse.duckdb'}"
    assert lineage.output.name == "warehouse.main.customers"


def test_without_the_observed_schema_a_star_over_unknown_columns_is_a_reported_gap(
    demo: Path,
) -> None:
    lineage = column_lineage(load_pipeline(demo))  # the CSV spec types only some columns

    assert lineage.gaps
    assert "'shape' (sql)" in lineage.gaps[0]
    assert lineage.column("email").transformation == "unknown"


def write(tmp_path: Path, steps: str, source: str = "", destination: str = "") -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "name: p\n"
        + (source or "source: {type: csv, path: in.csv, column_names: [a, b, c]}\n")
        + (f"steps:\n{steps}" if steps else "")
        + (destination or "destination: {type: files, path: out.parquet}\n"),
        encoding="utf-8",
    )
    return path


def test_select_rename_cast_and_derive_steps(tmp_path: Path) -> None:
    spec = load_pipeline(
        write(
            tmp_path,
            "  - {type: derive, columns: {d: 'a + b', a2: 'A', b: 'CAST(b AS VARCHAR)'}}\n"
            "  - {type: rename, columns: {c: see}}\n"
            "  - {type: cast, columns: {see: int64}}\n"
            "  - {type: select, columns: [d, a2, b, see]}\n",
        )
    )

    lineage = column_lineage(spec)

    assert {c.column: (edges(lineage, c.column), c.transformation) for c in lineage.columns} == {
        "d": ({(S, "a"): "derived", (S, "b"): "derived"}, "derived"),
        "a2": ({(S, "a"): "renamed"}, "renamed"),
        "b": ({(S, "b"): "cast"}, "cast"),
        "see": ({(S, "c"): "cast"}, "cast"),
    }
    assert lineage.input_columns[lineage.inputs[0]] == ("a", "b", "c")


def test_a_python_step_makes_everything_after_it_unknown(tmp_path: Path) -> None:
    spec = load_pipeline(
        write(
            tmp_path,
            "  - {type: python, function: 'mod:f'}\n  - {type: derive, columns: {z: 'q * 2'}}\n",
        )
    )

    lineage = column_lineage(spec)

    assert lineage.column("a").transformation == "unknown"
    assert edges(lineage, "z") == {(S, "q"): "derived"}  # q appeared after user code
    assert "python" in lineage.gaps[0]


def test_sql_with_ctes_aggregates_and_constants(tmp_path: Path) -> None:
    spec = load_pipeline(
        write(
            tmp_path,
            "  - type: sql\n"
            "    query: >-\n"
            "      WITH t AS (SELECT a, b * 2 AS b2, c FROM input WHERE c > 0)\n"
            '      SELECT a AS "Key", sum(b2) AS total, 1 AS one, TRY_CAST(a AS INT) AS ai\n'
            "      FROM t GROUP BY a HAVING sum(b2) > 1\n",
        )
    )

    lineage = column_lineage(spec)

    assert {c.column: (edges(lineage, c.column), c.transformation) for c in lineage.columns} == {
        "Key": ({(S, "a"): "renamed"}, "renamed"),
        "total": ({(S, "b"): "derived"}, "derived"),
        "one": ({}, "derived"),
        "ai": ({(S, "a"): "cast"}, "cast"),
    }
    assert {(i.column, i.subtypes) for i in lineage.indirect} == {
        ("c", ("FILTER",)),
        ("a", ("GROUP_BY",)),
        ("b", ("FILTER",)),  # HAVING sum(b2): b2 is b * 2 in the CTE
    }


def test_strongest_transformation_wins_and_ties_keep_the_later() -> None:
    assert stronger("identity", "renamed") == "renamed"
    assert stronger("masked:hash", "derived") == "masked:hash"
    assert stronger("masked:fake", "masked:hash") == "masked:hash"
    assert stronger("encrypted", "masked:hash") == "encrypted"
    assert stronger("unknown", "encrypted") == "unknown"


@pytest.mark.parametrize(
    ("destination", "namespace", "name"),
    [
        (
            "{type: postgres, url: 'postgresql+psycopg://etl:s3cret@db.internal/shop', "
            "table: orders}",
            "postgres://db.internal:5432",
            "shop.public.orders",
        ),
        (
            "{type: mssql, url: 'mssql+pyodbc://sa:pw@sql.example:1444/dw?driver=x', "
            "table: t, schema: sales}",
            "mssql://sql.example:1444",
            "dw.sales.t",
        ),
        ("{type: sqlite, url: 'sqlite:///out.db', table: t}", "sqlite://{dir}/out.db", "main.t"),
        ("{type: duckdb, path: wh.duckdb, table: t}", "duckdb://{dir}/wh.duckdb", "wh.main.t"),
        ("{type: files, path: out/x.parquet}", "file", "{dir}/out/x.parquet"),
    ],
)
def test_datasets_follow_the_naming_spec_and_never_carry_credentials(
    tmp_path: Path, destination: str, namespace: str, name: str
) -> None:
    spec = load_pipeline(write(tmp_path, "", "", f"destination: {destination}\n"))

    found = destination_dataset(spec)

    folder = str(tmp_path.resolve())
    assert (found.namespace, found.name) == (
        namespace.format(dir=folder),
        name.format(dir=folder),
    )
    assert "s3cret" not in found.uri
    assert "etl" not in found.uri


def test_rest_and_sql_sources_are_named_by_endpoint_and_by_the_tables_queried(
    tmp_path: Path,
) -> None:
    rest = load_pipeline(
        write(
            tmp_path,
            "",
            "source: {type: rest, url: 'https://api.example.com:8443/v1/customers?token=t0k'}\n",
        )
    )
    sql = load_pipeline(
        write(
            tmp_path,
            "",
            "source: {type: sql, url: 'postgresql://u:pw@pg:5433/crm', query: "
            "'WITH x AS (SELECT 1) SELECT * FROM sales.orders o JOIN customers c USING (id)'}\n",
        )
    )

    assert [(d.namespace, d.name) for d in source_datasets(rest)] == [
        ("https://api.example.com:8443", "/v1/customers")
    ]
    assert [(d.namespace, d.name) for d in source_datasets(sql)] == [
        ("postgres://pg:5433", "crm.sales.orders"),
        ("postgres://pg:5433", "crm.public.customers"),
    ]
