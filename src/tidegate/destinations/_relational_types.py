"""The Arrow -> SQL column type mapping of the SQLAlchemy-family destinations, and type families.

Split out of ``_relational`` because it is pure, with no connection and no destination state:
``arrow_to_sqlalchemy`` picks the SQLAlchemy type a column is created with for an Arrow type on
a dialect, and ``arrow_family``/``type_family``/``fits`` compare the data's types with a
reflected table's columns, so a run refuses data that would not fit before writing any of it.
``sqlalchemy_to_arrow`` goes the other way, for reading a table back as Arrow (the quarantine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.types import TypeEngine

__all__ = ["arrow_family", "arrow_to_sqlalchemy", "fits", "sqlalchemy_to_arrow", "type_family"]


def arrow_to_sqlalchemy(  # noqa: PLR0911, PLR0912 - one flat dispatch over Arrow types reads best
    arrow_type: pa.DataType, dialect: str
) -> TypeEngine[Any]:
    """The column type for ``arrow_type`` on ``dialect`` (postgresql, sqlite, mssql, ...).

    Raises ``ValueError`` for Arrow types no SQL column can hold (lists, structs, maps...).
    """
    import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
    from sqlalchemy.dialects import mssql  # noqa: PLC0415

    t = arrow_type
    on_mssql = dialect == "mssql"
    if pa.types.is_dictionary(t):
        return arrow_to_sqlalchemy(t.value_type, dialect)
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return sa.SmallInteger()
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return sa.Integer()
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return sa.BigInteger()
    if pa.types.is_uint64(t):
        return sa.Numeric(20, 0)
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return sa.REAL()
    if pa.types.is_float64(t):
        return mssql.FLOAT(53) if on_mssql else sa.Double()
    if pa.types.is_decimal(t):
        if on_mssql and t.precision > 38:
            raise ValueError(f"SQL Server decimals hold at most 38 digits, not {t.precision}")
        return sa.Numeric(t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return mssql.NVARCHAR(None) if on_mssql else sa.Text()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        if on_mssql:
            return mssql.VARBINARY("max")  # type: ignore[no-untyped-call]
        return sa.LargeBinary()
    if pa.types.is_date(t):
        return mssql.DATE() if on_mssql else sa.Date()
    if pa.types.is_timestamp(t):
        if on_mssql:
            return mssql.DATETIMEOFFSET(7) if t.tz else mssql.DATETIME2(7)  # type: ignore[no-untyped-call]
        return sa.DateTime(timezone=t.tz is not None)
    if pa.types.is_time(t):
        return mssql.TIME(6) if on_mssql else sa.Time()  # type: ignore[no-untyped-call]
    raise ValueError(f"no SQL column type holds Arrow type {t}")


def arrow_family(arrow_type: pa.DataType) -> str:
    """The type family of an Arrow type, compared with ``type_family`` of the table's column."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return arrow_family(t.value_type)
    checks = (
        ("null", pa.types.is_null),
        ("boolean", pa.types.is_boolean),
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("text", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)),
        ("binary", lambda x: pa.types.is_binary(x) or pa.types.is_large_binary(x)),
        ("binary", pa.types.is_fixed_size_binary),
        ("date", pa.types.is_date),
        ("time", pa.types.is_time),
    )
    for name, check in checks:
        if check(t):
            return name
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    return "other"


def type_family(sa_type: TypeEngine[Any]) -> str:  # noqa: PLR0911 - flat dispatch
    """The type family of a reflected column type; ``other`` accepts anything."""
    import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

    if isinstance(sa_type, sa.Boolean):
        return "boolean"
    if isinstance(sa_type, sa.Integer):
        return "integer"
    if isinstance(sa_type, sa.Float):
        return "float"
    if isinstance(sa_type, sa.Numeric):
        return "decimal"
    if isinstance(sa_type, sa.DateTime):
        tz = getattr(sa_type, "timezone", False) or type(sa_type).__name__ == "DATETIMEOFFSET"
        return "timestamptz" if tz else "timestamp"
    if isinstance(sa_type, sa.Date):
        return "date"
    if isinstance(sa_type, sa.Time):
        return "time"
    if isinstance(sa_type, sa.String | sa.Enum):
        return "text"
    if isinstance(sa_type, sa.LargeBinary | sa.types._Binary):
        return "binary"
    return "other"


def sqlalchemy_to_arrow(sa_type: TypeEngine[Any]) -> pa.DataType | None:  # noqa: PLR0911
    """The Arrow type that holds a reflected column's values; None to let Arrow infer it.

    The inverse of ``arrow_to_sqlalchemy`` as far as the database keeps the type: a timestamp
    column with a time zone reads back as ``timestamp[us, UTC]`` (databases keep instants, not
    zone names), a NUMERIC without precision is left to inference.
    """
    import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

    family = type_family(sa_type)
    simple = {
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "text": pa.string(),
        "binary": pa.binary(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", "UTC"),
    }
    if family in simple:
        return simple[family]
    if family == "integer":
        if isinstance(sa_type, sa.SmallInteger):
            return pa.int16()
        return pa.int64() if isinstance(sa_type, sa.BigInteger) else pa.int32()
    if family == "float":
        if isinstance(sa_type, sa.REAL) or getattr(sa_type, "precision", None) in range(1, 25):
            return pa.float32()
        return pa.float64()
    if family == "decimal":
        precision = getattr(sa_type, "precision", None)
        scale = getattr(sa_type, "scale", None) or 0
        if precision is None:
            return None
        if precision > 38:  # decimal128 holds at most 38 digits
            return pa.decimal256(precision, scale)
        return pa.decimal128(precision, scale)
    return None


_FITS = {
    "integer": {"integer", "decimal", "float"},
    "float": {"float", "decimal"},
    "decimal": {"decimal", "float"},
    "date": {"date", "timestamp", "timestamptz"},
    "timestamp": {"timestamp", "timestamptz"},
}


def fits(source: str, target: str, *, lenient_time: bool = False) -> bool:
    """Whether data of family ``source`` may be stored in a column of family ``target``."""
    if source in {"null", "other"} or target in {"other", source}:
        return True
    if lenient_time and {source, target} <= {"timestamp", "timestamptz"}:
        return True
    return target in _FITS.get(source, set())


def _type_text(sa_type: TypeEngine[Any], dialect: Dialect) -> str:
    try:
        text: str = sa_type.compile(dialect=dialect)
    except Exception:
        return repr(sa_type)
    return text
