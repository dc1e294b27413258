"""PII classification benchmark: Tidegate against Microsoft Presidio on the labeled set.

    python bench/classify.py [--tables 36] [--seed 7] [--presidio-values 100] [--keep]

Needs the ``bench`` extra (``pip install -e '.[dev,bench]'``, which brings presidio-analyzer
and spaCy). Generates the labeled evaluation set of ``tests/data/pii/generate.py`` into a temp
folder (not timed), then classifies every column of every table with both tools and scores
both with ``tests/data/pii/score.py``: per-type precision / recall / F1, macro-F1, the share of
non-PII columns flagged, and seconds per table.

How each tool is run (each table is read from Parquet before any clock starts):

- **Tidegate**: ``classify_table(table)`` with its defaults (a 10,000-row sample, so every row of
  these tables). The clock covers the whole call.
- **Presidio**: ``AnalyzerEngine`` with its default recognizer registry for ``en``. Presidio's
  NER needs a spaCy model; the official ``en_core_web_*`` models are published on GitHub, not
  on PyPI (the PyPI names that exist are third-party re-uploads), so the engine runs on a blank
  ``spacy.blank("en")`` pipeline: every pattern/checksum recognizer works (email, phone, credit
  card, IBAN, IP, SSN, NIF/NIE, fiscal codes, dates...), and NER-only entities (PERSON, LOCATION)
  are not produced. That costs Presidio the name and address columns and spares it the time of
  a neural model, which is to its advantage on speed.
  **Column decision**, the rule of presidio-structured's ``most_common`` strategy made explicit:
  analyze up to ``--presidio-values`` non-null values of the column (cast to text), keep each
  value's highest-scoring entity (score >= 0.3), and give the column the most common entity if
  it covers at least 50 % of the analyzed values. A text column (four or more words per value on
  average) where entities cover less than that but at least 2 % of the values is
  ``free_text_pii``. Presidio entities are mapped to our types (``EMAIL_ADDRESS`` -> email,
  ``PHONE_NUMBER`` -> phone, ``US_SSN``/``UK_NINO``/``ES_NIF``/... -> national_id,
  ``DATE_TIME`` -> date_of_birth, ``LOCATION`` -> street_address, ...); an entity with no
  counterpart (``URL``, ``US_BANK_NUMBER``, ``CRYPTO``...) still flags the column as PII of an
  ``other`` type, which is a false positive on a ``none`` column.
  The clock covers analyzing the sampled values and deciding.

The last line is JSON with ``tidegate_macro_f1``, ``presidio_macro_f1``, ``speedup`` (Presidio
seconds per table / Tidegate seconds per table) and the details.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.data.pii.generate import generate  # noqa: E402 - the repository root is put on the path first
from tests.data.pii.score import Score, score  # noqa: E402

from tidegate.governance.classify import classify_table  # noqa: E402

ENTITY_TO_TYPE = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "PERSON": "person_name",
    "LOCATION": "street_address",
    "DATE_TIME": "date_of_birth",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "MAC_ADDRESS": "mac_address",
    "US_SSN": "national_id",
    "UK_NINO": "national_id",
    "UK_NHS": "national_id",
    "ES_NIF": "national_id",
    "ES_NIE": "national_id",
    "IT_FISCAL_CODE": "national_id",
    "PL_PESEL": "national_id",
    "IT_IDENTITY_CARD": "national_id",
    "US_PASSPORT": "national_id",
}
MIN_SCORE = 0.3
COLUMN_SHARE = 0.5
FREE_TEXT_SHARE = 0.02


def presidio_engine() -> Any:
    """Presidio's analyzer on a blank spaCy English pipeline (see the module docstring)."""
    import spacy  # noqa: PLC0415 - bench-only dependency
    from presidio_analyzer import AnalyzerEngine  # noqa: PLC0415
    from presidio_analyzer.nlp_engine import SpacyNlpEngine  # noqa: PLC0415

    # The email recognizer's tldextract tries to refresh the public-suffix list over the network
    # and falls back to its bundled snapshot; offline, that attempt only logs a traceback.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank_en"}])
    nlp_engine.nlp = {"en": spacy.blank("en")}
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])


def presidio_column(engine: Any, column: pa.ChunkedArray, limit: int) -> str:
    """The column's type by the majority-entity rule of the module docstring."""
    values = [str(v) for v in column.drop_null().to_pylist()[:limit]]
    if not values:
        return "none"
    entities: list[str] = []
    for value in values:
        found = [r for r in engine.analyze(text=value, language="en") if r.score >= MIN_SCORE]
        if found:
            entities.append(max(found, key=lambda r: r.score).entity_type)
    if not entities:
        return "none"
    entity, count = Counter(entities).most_common(1)[0]
    if count / len(values) >= COLUMN_SHARE:
        return ENTITY_TO_TYPE.get(entity, "other")
    words = statistics.mean(len(v.split()) for v in values)
    if words >= 4 and len(entities) / len(values) >= FREE_TEXT_SHARE:
        return "free_text_pii"
    return "none"


def run(folder: Path, labels: dict[str, dict[str, str]], limit: int) -> dict[str, Any]:
    """Classify every table with both tools; return predictions and per-table seconds."""
    engine = presidio_engine()
    tables = {name: pq.read_table(folder / f"{name}.parquet") for name in labels}
    ours: dict[str, dict[str, str]] = {}
    theirs: dict[str, dict[str, str]] = {}
    ours_s: list[float] = []
    theirs_s: list[float] = []
    for name, table in tables.items():
        start = time.perf_counter()
        ours[name] = {c.column: str(c.pii_type) for c in classify_table(table)}
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs[name] = {
            col: presidio_column(engine, table.column(col), limit) for col in table.column_names
        }
        theirs_s.append(time.perf_counter() - start)
    return {"ours": ours, "theirs": theirs, "ours_s": ours_s, "theirs_s": theirs_s}


def side_by_side(tidegate: Score, presidio: Score) -> str:
    """Per-type F1 of both tools next to each other."""
    lines = [f"{'type':<16}{'n':>4}  {'tidegate P/R/F1':>21}  {'presidio P/R/F1':>21}"]
    for name in sorted(tidegate.per_type):
        a, b = tidegate.per_type[name], presidio.per_type[name]
        lines.append(
            f"{name:<16}{a.support:>4}  {a.precision:>6.3f}{a.recall:>7.3f}{a.f1:>8.3f}"
            f"  {b.precision:>6.3f}{b.recall:>7.3f}{b.f1:>8.3f}"
        )
    lines.append(f"{'macro-F1':<16}{'':>4}  {tidegate.macro_f1:>21.3f}  {presidio.macro_f1:>21.3f}")
    lines.append(
        f"{'non-PII flagged':<16}{'':>4}  {tidegate.non_pii_flag_rate:>21.1%}"
        f"  {presidio.non_pii_flag_rate:>21.1%}"
    )
    return "\n".join(lines)


def main() -> None:
    """Generate the set, run both tools, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=36)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--presidio-values", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the generated set")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tidegate-pii-")) if args.keep else None
    with tempfile.TemporaryDirectory(prefix="tidegate-pii-") as tmp:
        target = folder or Path(tmp)
        labels = generate(target, tables=args.tables, seed=args.seed)
        result = run(target, labels, args.presidio_values)
    tidegate, presidio = score(labels, result["ours"]), score(labels, result["theirs"])
    ours_s = statistics.mean(result["ours_s"])
    theirs_s = statistics.mean(result["theirs_s"])
    columns = sum(len(c) for c in labels.values())
    rows = (
        sum(pq.ParquetFile(target / f"{n}.parquet").metadata.num_rows for n in labels)
        if folder
        else None
    )
    print(
        f"{len(labels)} tables, {columns} columns (seed {args.seed})"
        + (f", {rows} rows, kept in {folder}" if folder else "")
    )
    print(side_by_side(tidegate, presidio))
    print(f"seconds per table: tidegate {ours_s:.4f}  presidio {theirs_s:.4f}")
    speedup = theirs_s / ours_s
    print(
        json.dumps(
            {
                "tidegate_macro_f1": round(tidegate.macro_f1, 4),
                "presidio_macro_f1": round(presidio.macro_f1, 4),
                "speedup": round(speedup, 1),
                "tidegate_s_per_table": round(ours_s, 4),
                "presidio_s_per_table": round(theirs_s, 4),
                "tidegate_non_pii_flagged": round(tidegate.non_pii_flag_rate, 4),
                "presidio_non_pii_flagged": round(presidio.non_pii_flag_rate, 4),
                "tables": len(labels),
                "columns": columns,
                "presidio_values_per_column": args.presidio_values,
                "presidio_spacy": "blank en",
            }
        )
    )


if __name__ == "__main__":
    main()
