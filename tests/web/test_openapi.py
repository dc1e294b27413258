"""Property-based requests generated from the dashboard's OpenAPI document (schemathesis's
strategies driven by hypothesis) against a state store filled by real runs: no request makes
the server fail (5xx)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.web.test_app import history  # noqa: F401 - the module fixture of real runs
from tidegate.app.dashboard import dashboard_app
from tidegate.state import StateStore

if TYPE_CHECKING:
    from schemathesis import Case


def test_no_generated_request_makes_the_server_fail(history: dict[str, str]) -> None:  # noqa: F811
    store = StateStore.open(history["url"])
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", dashboard_app(store))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 3  # overview, pipeline, run (and the probes)
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
            def no_server_error(case: Case) -> None:
                response = case.call()
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    response.text[:300],
                )

            no_server_error()
    finally:
        store.close()
