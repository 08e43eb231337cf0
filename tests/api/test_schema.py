"""Schema conformance: schemathesis calls every operation of the live schema in-process (WSGI).

No response may be a 5xx, and every response (status code, content type, headers, body) must match
what /api/schema/ promises. Few examples per operation, so it stays fast.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chargenet.api.services import api_key_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(db, settings):
    settings.API_THROTTLE_RATE = ""
    settings.API_COMMAND_MAX_WAIT = 0
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    # As Django's test client does: a finished request must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def operator_key(operator, station, driver):
    from rfid.services import id_token_create

    id_token_create(uid="CARD-1")
    _billing_objects(station, driver)
    return api_key_create(user=operator, name="schemathesis", role="operate")[1]


def _billing_objects(station, driver) -> None:
    """A tariff, an assignment, a plan with a member, a priced session with a credit and an invoice with a payment:
    so that billing's lists and objects are checked with real content, not only empty pages."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from billing import services
    from rfid.models import IdToken
    from tests.billing.conftest import make_session

    tariff = services.tariff_create(
        code="STD", name="Standard", vat_percent=Decimal("25"), is_default=True,
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
                  {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]}],
    )  # fmt: skip
    services.tariff_assign(tariff=tariff, station_id=station.pk)
    plan = services.subscription_plan_create(
        name="Basic", monthly_fee=Decimal("5"), vat_percent=Decimal("21"), tariff=tariff, self_service=True
    )
    services.subscription_start(driver=driver, plan=plan, started_on=date(2026, 9, 1))
    card = IdToken.objects.create(uid="DANA0001", driver=driver)
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_correct(cdr=services.cdr_create_for_session(session_id=session.pk))
    make_session(station, card, started_at=datetime(2026, 10, 20, 8, 0, tzinfo=UTC), stopped=False)
    (invoice,) = services.invoice_run(period=services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31)))
    services.payment_record_manual(invoice=invoice, amount=Decimal("1.00"), reference="TRX-1")


schema = schemathesis.pytest.from_fixture("api_schema")


# One test walks every operation (subtests): its time grows with the API, so it gets more than the
# suite's per-test limit.
@pytest.mark.slow
@pytest.mark.timeout(1200)
@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_the_schema_says(case, operator_key):
    case.call_and_validate(headers={"Authorization": f"Token {operator_key}"}, checks=CHECKS)


def test_the_schema_documents_every_operation_with_descriptions_examples_and_errors(client, db):
    schema = client.get("/api/schema/?format=json").json()

    commands = schema["paths"]["/api/v1/stations/{identity}/commands/"]["post"]
    assert {"201", "400", "401", "403", "404", "409", "429"} <= set(commands["responses"])
    assert commands["description"]
    assert commands["requestBody"]["content"]["application/json"]["examples"]
    assert "apiKey" in schema["components"]["securitySchemes"]
    assert all(path.startswith("/api/v1/") for path in schema["paths"])


def test_the_interactive_docs_are_served_without_the_internet(client, db):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page.content.decode()
    assert (
        client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    )
