"""Schemathesis against the service's own OpenAPI document, in process over ASGI.

Every operation in ``/docs/openapi.json`` is called with requests generated
from the document, valid ones and deliberately invalid ones; each answer must
match it (documented status, content type and schema) and none may be a 5xx.
Each operation's strategy is driven by Hypothesis directly: schemathesis' lazy
pytest fixture loader does not run on this pytest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sanic import Sanic
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python import asgi

from service.app import create_app
from service.config import Settings
from tests.api.served import with_lifespan

pytestmark = pytest.mark.slow

# The same cases on every run (no random seed, no replayed database): a failure
# here is the code's, reproducible, not the draw's.
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


ADMIN_TOKEN = "schemathesis-admin-token-0123456789"


@pytest.fixture
def api_schema(make_settings: Callable[..., Settings], mail_dir: Path) -> Iterator[object]:
    """The OpenAPI document of a development app, whose lifespan schemathesis runs.

    The admin API is on, so its operations are tested too (with the token).
    """
    app = create_app(
        settings=make_settings(
            email_from="owner@example.com",
            contact_recipients="owner@example.com",
            contact_rate_limit="off",
            confirmation_rate_limit="off",
            admin_token=ADMIN_TOKEN,
        )
    )

    async def pause_delivery(app: Sanic) -> None:
        # Delivery is not under test, and the email package draws MIME boundaries from the
        # global random generator, which Hypothesis forbids while it generates cases.
        await app.ctx.worker.stop(grace=0)

    app.register_listener(pause_delivery, "before_server_start")
    yield schemathesis.openapi.from_asgi("/docs/openapi.json", with_lifespan(app))
    asgi.shutdown_lifespans()
    Sanic._app_registry.pop(app.name, None)


def has_inputs(operation: schemathesis.APIOperation) -> bool:
    """True when the operation takes parameters or a body that negative tests can spoil.

    A path parameter that may be any string cannot be spoiled: every value in a
    URL is a string, so Hypothesis rejects every case it draws (Unsatisfiable).
    """
    spoilable = [
        parameter
        for parameter in operation.iter_parameters()
        if not (
            parameter.definition.get("in") == "path"
            and parameter.definition.get("schema") == {"type": "string"}
        )
    ]
    return bool(spoilable) or bool(operation.get_request_payload_content_types())


def headers_under_test(case: schemathesis.Case) -> bool:
    """True when the case's headers were spoilt or left out on purpose: send them as they are.

    Schemathesis marks such a case on its header component, or only on its
    phase when the left-out header was the only one (a missing
    ``Authorization``): adding the token would turn it into a valid request.
    """
    meta = case.meta
    if meta is None:
        return False
    location = getattr(meta.phase.data, "parameter_location", None)
    return meta.is_negative_at(ParameterLocation.HEADER) or location == ParameterLocation.HEADER


def test_every_operation_answers_as_documented(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/api/contact"),
        ("GET", "/api/health"),
        ("GET", "/api/admin/outbox"),
        ("POST", "/api/admin/outbox/{email_id}/retry"),
        ("GET", "/api/admin/submissions"),
        ("GET", "/api/admin/submissions.csv"),
        ("POST", "/api/admin/submissions/{submission_id}/spam"),
        ("DELETE", "/api/admin/people"),
    }
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        if mode is schemathesis.GenerationMode.NEGATIVE and not has_inputs(operation):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(mode))
        @EXAMPLES
        def answers_as_documented(case: schemathesis.Case) -> None:
            # JSON Schema cannot say everything the form checks (special-use mail
            # domains, text that is blank once trimmed), so a schema-valid body may
            # still be a documented 422; every other check stays on.
            response = case.call_and_validate(
                headers={}
                if headers_under_test(case)
                else {"Authorization": f"Bearer {ADMIN_TOKEN}"},
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
            )
            assert response.status_code < 500

        answers_as_documented()
