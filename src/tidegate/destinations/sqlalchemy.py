"""The ``sqlalchemy`` destination: the generic fallback for any database SQLAlchemy can reach.

This is the slow path. Rows go through SQLAlchemy Core ``insert()`` with executemany of Python
values (converted column-wise by Arrow, then handed to the driver row by row); use the
``postgres``, ``sqlite`` or ``mssql`` destinations where they apply, they are much faster.

It keeps the same guarantees as the dedicated destinations: checkpoint row in the same
transaction as the rows, a lock row in ``_tidegate_locks``, replace through
``_tidegate_staging_<table>`` swapped by ``DROP TABLE`` + ``ALTER TABLE ... RENAME TO``. Merge is
portable rather than native: the batch's keys are deleted from the table, then the batch is
inserted, in the same transaction; columns absent from the batch are therefore reset to NULL
on matched rows. Atomicity of replace needs a database whose DDL is transactional (PostgreSQL,
SQL Server, SQLite); on MySQL/MariaDB, DDL commits implicitly and the swap is not atomic.

``connect_timeout`` reaches the drivers whose connect argument is known (``CONNECT_TIMEOUT_ARGS``);
others connect with their own default. ``health`` is the shared one (see ``_relational``); on a
database whose DDL commits implicitly, its probe table is dropped explicitly afterwards.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from tidegate.destinations._relational import RelationalDestination, RelationalSettings
from tidegate.spec.connect import CONNECT_TIMEOUT_ARGS

if TYPE_CHECKING:
    from tidegate.core.context import RunContext
    from tidegate.spec.settings import PluginSettings

__all__ = ["SqlalchemyDestination", "SqlalchemySettings"]


class SqlalchemySettings(RelationalSettings):
    """Settings of the generic ``sqlalchemy`` destination."""


class SqlalchemyDestination(RelationalDestination):
    """Loads batches through SQLAlchemy Core into any supported database (the slow path)."""

    kind: ClassVar[str] = "sqlalchemy"
    Settings: ClassVar[type[PluginSettings]] = SqlalchemySettings

    def __init__(self, settings: SqlalchemySettings) -> None:
        super().__init__(settings)

    def _engine_options(self, ctx: RunContext) -> dict[str, Any]:
        driver = self.dialect.driver  # the dialect's default when the url names none
        arg = CONNECT_TIMEOUT_ARGS.get((self.url.get_backend_name(), driver))
        if arg is None:
            return {}
        return {"connect_args": {arg: max(1, math.ceil(self.settings.connect_timeout))}}
