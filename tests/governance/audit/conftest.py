"""Chains of 10,000 records, keyed and unkeyed, built once and tampered with copy by copy."""

from __future__ import annotations

import pytest

from tests.governance.audit.chains import CHAIN_LENGTH, build_chain
from tidegate.governance.audit import AuditKey, AuditRecord


@pytest.fixture(scope="session")
def chain_key() -> AuditKey:
    return AuditKey(b"k" * 32)


@pytest.fixture(scope="session")
def keyed_chain(chain_key: AuditKey) -> list[AuditRecord]:
    return build_chain(CHAIN_LENGTH, chain_key)


@pytest.fixture(scope="session")
def plain_chain() -> list[AuditRecord]:
    return build_chain(CHAIN_LENGTH, None)
