"""Alembic environment: migrations run on the connection ``StateStore`` hands over.

There is no alembic.ini: the store builds the configuration in code, so the migrations ship
inside the package and run wherever Tidegate is installed.
"""

from __future__ import annotations

from alembic import context

from tidegate.state.tables import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
