"""Alembic migrations of the state store; applied by ``StateStore`` when it opens."""
