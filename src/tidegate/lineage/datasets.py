"""Which datasets a pipeline reads and writes, named as the OpenLineage naming spec says.

A dataset is identified by a namespace (the data source: ``scheme://authority``) and a name
(the table or path within it), so lineage from Tidegate joins up with lineage from other tools
that read or write the same tables and files:

========  ==============================  ==============================
kind      namespace                       name
========  ==============================  ==============================
files     ``file``                        absolute path
postgres  ``postgres://{host}:{port}``    ``{database}.{schema}.{table}``
mssql     ``mssql://{host}:{port}``       ``{database}.{schema}.{table}``
duckdb    ``duckdb://{absolute path}``    ``{database}.{schema}.{table}``
sqlite    ``sqlite://{absolute path}``    ``{schema}.{table}``
http      ``{scheme}://{host}:{port}``    URL path (the query string is left out)
========  ==============================  ==============================

DuckDB and SQLite have no entry in the naming spec; their namespace follows its
``scheme://authority`` pattern with the database file as the authority, and the DuckDB database
name is the file's stem, as DuckDB itself names it. User names, passwords and query strings
never reach a dataset name: URLs often carry credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pydantic import SecretStr

    from tidegate.spec import PipelineSpec

__all__ = ["Dataset", "destination_dataset", "file_dataset", "source_datasets"]

_DEFAULT_PORTS = {"postgres": 5432, "mssql": 1433, "http": 80, "https": 443}
_DB_SCHEMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "mssql": "mssql",
    "sqlserver": "mssql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mysql": "mysql",
    "mariadb": "mysql",
}


@dataclass(frozen=True)
class Dataset:
    """One OpenLineage dataset: its identity and the kind of plugin that reads or writes it."""

    namespace: str
    name: str
    kind: str

    @property
    def uri(self) -> str:
        """Namespace and name as one string, for people and for the Atlas qualified name."""
        if self.namespace == "file":
            return f"file://{self.name}"
        return f"{self.namespace}/{self.name}"


def file_dataset(path: str | Path, base_dir: Path, kind: str = "file") -> Dataset:
    """A local file, named by its absolute path (relative paths start at ``base_dir``)."""
    candidate = Path(path).expanduser()
    absolute = candidate if candidate.is_absolute() else base_dir / candidate
    return Dataset(namespace="file", name=str(absolute.resolve()), kind=kind)


def source_datasets(spec: PipelineSpec) -> tuple[Dataset, ...]:
    """The datasets the source reads: one file or endpoint, or the tables a SQL query names."""
    source = spec.source
    settings = source.settings
    if source.type == "sql":
        return _query_tables(
            _secret(settings, "url"), str(getattr(settings, "query", "")), spec.base_dir
        )
    if source.type == "rest":
        return (_http(_secret(settings, "url") or str(getattr(settings, "url", "")), "rest"),)
    path = getattr(settings, "path", None)
    if isinstance(path, str):
        return (file_dataset(path, spec.base_dir, source.type),)
    return (Dataset(namespace="tidegate", name=f"{spec.name}.source", kind=source.type),)


def destination_dataset(spec: PipelineSpec) -> Dataset:
    """The dataset the destination writes."""
    destination = spec.destination
    settings = destination.settings
    table = str(getattr(settings, "table", "") or spec.name)
    schema = getattr(settings, "db_schema", None)
    if destination.type == "duckdb":
        path = Path(str(getattr(settings, "path", ".tidegate/warehouse.duckdb")))
        file = file_dataset(path, spec.base_dir).name
        return Dataset(
            namespace=f"duckdb://{file}",
            name=f"{Path(file).stem}.{schema or 'main'}.{table}",
            kind="duckdb",
        )
    url = _secret(settings, "url")
    if url is not None:
        return _database_table(url, schema, table, destination.type, spec.base_dir)
    target = getattr(settings, "path", None)
    if isinstance(target, str):
        return file_dataset(target, spec.base_dir, destination.type)
    return Dataset(namespace="tidegate", name=f"{spec.name}.{table}", kind=destination.type)


def _secret(settings: Any, name: str) -> str | None:
    value: SecretStr | str | None = getattr(settings, name, None)
    if value is None or isinstance(value, str):
        return value
    return value.get_secret_value()


def _database_table(url: str, schema: str | None, table: str, kind: str, base_dir: Path) -> Dataset:
    """A table of the database ``url`` points to; never carries the URL's credentials."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only relational plugins need it

    parsed = make_url(url)
    scheme = _DB_SCHEMES.get(parsed.get_backend_name(), parsed.get_backend_name())
    if scheme in {"sqlite", "duckdb"}:
        database = parsed.database or ":memory:"
        file = database if database == ":memory:" else file_dataset(database, base_dir).name
        stem = Path(file).stem if scheme == "duckdb" else None
        name = ".".join(part for part in (stem, schema or "main", table) if part)
        return Dataset(namespace=f"{scheme}://{file}", name=name, kind=kind)
    port = parsed.port or _DEFAULT_PORTS.get(scheme)
    authority = f"{parsed.host or 'localhost'}:{port}" if port else parsed.host or "localhost"
    default_schema = {"postgres": "public", "mssql": "dbo"}.get(scheme)
    parts = (parsed.database, schema or default_schema, table)
    return Dataset(
        namespace=f"{scheme}://{authority}",
        name=".".join(part for part in parts if part),
        kind=kind,
    )


def _http(url: str, kind: str) -> Dataset:
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    host = parts.hostname or "localhost"
    return Dataset(namespace=f"{scheme}://{host}:{port}", name=parts.path or "/", kind=kind)


def _query_tables(url: str | None, query: str, base_dir: Path) -> tuple[Dataset, ...]:
    """The tables a source query reads, each named in the database ``url`` points to."""
    from tidegate.lineage._sql import query_tables  # noqa: PLC0415 - sqlglot on first use

    if url is None:
        return ()
    found = []
    for database, schema, table in query_tables(query):
        dataset = _database_table(url, schema, table, "sql", base_dir)
        if database:
            dataset = Dataset(
                namespace=dataset.namespace,
                name=".".join(part for part in (database, schema, table) if part),
                kind="sql",
            )
        found.append(dataset)
    return tuple(found)
