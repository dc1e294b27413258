"""The mssql destination's T-SQL, compiled through SQLAlchemy's real mssql dialect.

SQL Server cannot run here, so these tests pin the exact DDL and DML text the destination
emits; the live path (pyodbc, fast_executemany) is untested on this machine.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy.schema import CreateTable

from tidegate.destinations.mssql import MssqlDestination, MssqlSettings
from tidegate.errors import ConfigError

URL = "mssql+pyodbc://sa:Secr3t-pw@db:1433/wh?driver=ODBC+Driver+18+for+SQL+Server"
HOSTILE = "a]; DROP TABLE x; --"


def make(**settings: Any) -> MssqlDestination:
    settings.setdefault("url", URL)
    settings.setdefault("table", "people")
    return MssqlDestination(MssqlSettings(**settings))


def test_create_table_maps_arrow_types_to_tsql() -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("small", pa.int16()),
            ("i", pa.int32()),
            ("name", pa.string()),
            ("flag", pa.bool_()),
            ("amount", pa.decimal128(12, 2)),
            ("at", pa.timestamp("us", "UTC")),
            ("naive", pa.timestamp("us")),
            ("day", pa.date32()),
            ("clock", pa.time64("us")),
            ("blob", pa.binary()),
            ("f", pa.float64()),
            ("r", pa.float32()),
        ]
    )
    assert make().create_table_sql("people", schema, key=["id"]) == (
        "CREATE TABLE [dbo].[people] (\n"
        "\t[id] BIGINT NOT NULL, \n"
        "\t[small] SMALLINT NULL, \n"
        "\t[i] INTEGER NULL, \n"
        "\t[name] NVARCHAR(max) NULL, \n"
        "\t[flag] BIT NULL, \n"
        "\t[amount] NUMERIC(12, 2) NULL, \n"
        "\t[at] DATETIMEOFFSET(7) NULL, \n"
        "\t[naive] DATETIME2(7) NULL, \n"
        "\t[day] DATE NULL, \n"
        "\t[clock] TIME(6) NULL, \n"
        "\t[blob] VARBINARY(max) NULL, \n"
        "\t[f] FLOAT(53) NULL, \n"
        "\t[r] REAL NULL, \n"
        "\tUNIQUE ([id])\n"
        ")"
    )


def test_hostile_names_are_bracket_quoted() -> None:
    dest = make(table=HOSTILE, schema="sales ops")
    schema = pa.schema([(HOSTILE, pa.int64()), ("select", pa.string())])
    assert dest.create_table_sql(HOSTILE, schema, key=[]) == (
        "CREATE TABLE [sales ops].[a]]; DROP TABLE x; --] (\n"
        "\t[a]]; DROP TABLE x; --] BIGINT NULL, \n"
        "\t[select] NVARCHAR(max) NULL\n"
        ")"
    )
    assert dest.insert_sql(HOSTILE, [HOSTILE, "select"]) == (
        "INSERT INTO [sales ops].[a]]; DROP TABLE x; --] ([a]]; DROP TABLE x; --], [select]) "
        "VALUES (?, ?)"
    )
    assert dest.swap_sql() == [
        "DROP TABLE IF EXISTS [sales ops].[a]]; DROP TABLE x; --]",
        "EXEC sp_rename N'[sales ops].[_tidegate_staging_a]]; DROP TABLE x; --]', "
        "N'a]; DROP TABLE x; --', N'OBJECT'",
    ]
    quoted = make(table="it's")
    assert quoted.swap_sql()[1] == (
        "EXEC sp_rename N'[dbo].[_tidegate_staging_it''s]', N'it''s', N'OBJECT'"
    )


def test_add_column_and_drop() -> None:
    dest = make()
    assert dest.add_column_sql("people", "new col", pa.decimal128(38, 4)) == (
        "ALTER TABLE [dbo].[people] ADD [new col] NUMERIC(38, 4) NULL"
    )
    assert dest.drop_sql("_tidegate_staging_people") == (
        "DROP TABLE IF EXISTS [dbo].[_tidegate_staging_people]"
    )


def test_merge_is_one_tsql_merge_through_a_temp_table() -> None:
    dest = make(mode="merge", key=["id", "region"])
    names = ["id", "region", "name", "score"]
    assert dest.merge_temp_sql(names) == [
        "DROP TABLE IF EXISTS [#tidegate_merge]",
        "SELECT TOP 0 [id], [region], [name], [score] INTO [#tidegate_merge] FROM [dbo].[people]",
    ]
    assert dest.merge_sql("[#tidegate_merge]", names, ["id", "region"]) == (
        "MERGE INTO [dbo].[people] WITH (HOLDLOCK) AS [tgt] USING [#tidegate_merge] AS [src] "
        "ON [tgt].[id] = [src].[id] AND [tgt].[region] = [src].[region] "
        "WHEN MATCHED THEN UPDATE SET [tgt].[name] = [src].[name], [tgt].[score] = [src].[score] "
        "WHEN NOT MATCHED BY TARGET THEN INSERT ([id], [region], [name], [score]) "
        "VALUES ([src].[id], [src].[region], [src].[name], [src].[score]);"
    )
    assert dest.merge_sql("[#m]", ["id"], ["id"]) == (
        "MERGE INTO [dbo].[people] WITH (HOLDLOCK) AS [tgt] USING [#m] AS [src] "
        "ON [tgt].[id] = [src].[id] WHEN NOT MATCHED BY TARGET THEN INSERT ([id]) "
        "VALUES ([src].[id]);"
    )


def test_checkpoint_table_and_latest_checkpoint_query() -> None:
    dest = make()
    ddl = str(CreateTable(dest._checkpoint_table()).compile(dialect=dest.dialect)).strip()
    assert ddl == (
        "CREATE TABLE [_tidegate_checkpoints] (\n"
        "\t[pipeline] NVARCHAR(400) NOT NULL, \n"
        "\t[target] NVARCHAR(400) NOT NULL, \n"
        "\t[run_id] NVARCHAR(400) NOT NULL, \n"
        "\t[batch] INTEGER NOT NULL, \n"
        "\t[rows] BIGINT NOT NULL, \n"
        "\t[position] NVARCHAR(max) NOT NULL, \n"
        "\t[finished] BIT NOT NULL, \n"
        "\t[committed_at] DATETIMEOFFSET NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
        ")"
    )
    query = dest.latest_checkpoint_query("p").compile(
        dialect=dest.dialect, compile_kwargs={"literal_binds": True}
    )
    t = "[_tidegate_checkpoints]"
    assert str(query) == (
        f"SELECT TOP 1 {t}.[run_id], {t}.[batch], {t}.[rows], {t}.[position], {t}.[finished] \n"
        f"FROM {t} \n"
        f"WHERE {t}.[pipeline] = N'p' AND {t}.[target] = N'dbo.people' "
        f"ORDER BY {t}.[run_id] DESC, {t}.[batch] DESC, {t}.[finished] DESC"
    )


def test_session_app_lock() -> None:
    dest = make()
    assert dest.lock_sql() == (
        "DECLARE @result int; EXEC @result = sp_getapplock @Resource = "
        "N'tidegate:dbo.people', @LockMode = 'Exclusive', @LockOwner = 'Session', "
        "@LockTimeout = 0; SELECT @result"
    )
    assert dest.unlock_sql() == (
        "EXEC sp_releaseapplock @Resource = N'tidegate:dbo.people', @LockOwner = 'Session'"
    )


def test_describe_hides_the_password_and_bad_settings_are_refused() -> None:
    dest = make()
    assert "Secr3t-pw" not in dest.describe()
    assert dest.describe().startswith("mssql:mssql+pyodbc://sa:***@db:1433/wh")
    with pytest.raises(ConfigError, match="needs a mssql\\+pyodbc:// url"):
        make(url="postgresql://u:p@h/db")
    with pytest.raises(ConfigError, match=r"column .big. has type decimal256.*at most 38"):
        make().create_table_sql("people", pa.schema([("big", pa.decimal256(50, 2))]), key=[])
    with pytest.raises(ConfigError, match="column 'tags' has type list<item: string>"):
        make().create_table_sql("people", pa.schema([("tags", pa.list_(pa.string()))]), key=[])


def test_timezone_aware_timestamps_are_sent_as_utc() -> None:
    column = pa.array([0, None], pa.timestamp("s", "Europe/Paris"))
    converted = make()._driver_values(column)
    assert converted.type == pa.timestamp("s")
    assert str(converted[0].as_py()) == "1970-01-01 00:00:00"
