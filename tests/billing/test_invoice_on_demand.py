"""Invoicing on demand (the dashboard's button and the API) and what an invoice says about its parties."""

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from billing.models import Invoice
from chargenet.api.services import api_key_create
from tests.billing.conftest import make_session

SELLER = {
    "BILLING_SELLER_NAME": "Harbour Charging AB",
    "BILLING_SELLER_ADDRESS": "Hamngatan 1\n111 47 Stockholm",
    "BILLING_SELLER_VAT_ID": "SE556677889901",
    "BILLING_PAYMENT_TERMS_DAYS": 30,
}


@pytest.fixture
def october_session(station, card, done_when_tariff, driver):
    driver.billing_name = "Dana Driver"
    driver.billing_address = "Storgatan 2\n222 22 Lund"
    driver.vat_number = "SE999988887701"
    driver.save()
    from billing import services

    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)
    return session


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=user, name='t', role='operate')[1]}")
    return client


@override_settings(**SELLER)
def test_an_operator_invoices_a_period_now_and_the_invoice_names_seller_buyer_due_date_and_terms(
    client, operator, october_session
):
    # given an uninvoiced October session
    client.force_login(operator)

    # when the operator presses "Invoice now" for October
    response = client.post(
        "/billing/invoices/run/", {"period_start": "2026-10-01", "period_end": "2026-10-31"}, follow=True
    )

    # then one invoice is issued, and it says who sells, who buys, when to pay
    assert "Issued 1 invoice(s)" in response.text
    invoice = Invoice.objects.get()
    page = client.get(f"/billing/invoices/{invoice.pk}/").text
    for text in ("Harbour Charging AB", "Hamngatan 1<br>111 47 Stockholm", "VAT id SE556677889901",
                 "Dana Driver", "Storgatan 2<br>222 22 Lund", "VAT id SE999988887701",
                 "Payable within 30 days of the invoice date."):  # fmt: skip
        assert text in page
    assert (invoice.due_on - invoice.issued_at.date()).days == 30


def test_invoicing_the_same_period_again_issues_nothing(client, operator, october_session):
    client.force_login(operator)
    period = {"period_start": "2026-10-01", "period_end": "2026-10-31"}
    client.post("/billing/invoices/run/", period)

    response = client.post("/billing/invoices/run/", period, follow=True)

    assert "Nothing left to invoice" in response.text
    assert Invoice.objects.count() == 1


def test_a_viewer_cannot_invoice(client, viewer, october_session):
    client.force_login(viewer)

    response = client.post(
        "/billing/invoices/run/", {"period_start": "2026-10-01", "period_end": "2026-10-31"}
    )

    assert response.status_code == 403
    assert not Invoice.objects.exists()


def test_the_api_invoices_a_period_and_returns_the_invoices(operator, october_session):
    api = _api(operator)

    first = api.post(
        "/api/v1/invoices/run/", {"period_start": "2026-10-01", "period_end": "2026-10-31"}, format="json"
    )
    again = api.post(
        "/api/v1/invoices/run/", {"period_start": "2026-10-01", "period_end": "2026-10-31"}, format="json"
    )

    assert first.status_code == 201
    (invoice,) = first.json()["invoices"]
    assert invoice["billing_address"] == "Storgatan 2\n222 22 Lund" and invoice["due_on"]
    assert again.status_code == 201 and again.json() == {"invoices": []}


@pytest.mark.parametrize(
    ("period", "status", "message"),
    [
        ({"period_start": "2026-10-31", "period_end": "2026-10-01"}, 409, "the period ends before it starts"),
        (
            {"period_start": "2026-10-01", "period_end": "2999-01-01"},
            409,
            "the period may not end after today",
        ),
        ({"period_start": "October", "period_end": "2026-10-31"}, 400, ""),
    ],
    ids=["backwards", "future", "not a date"],
)
def test_the_api_refuses_a_bad_period_and_invoices_nothing(
    operator, october_session, period, status, message
):
    response = _api(operator).post("/api/v1/invoices/run/", period, format="json")

    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert not Invoice.objects.exists()


def test_the_default_period_of_the_button_is_last_month(client, operator, db):
    client.force_login(operator)

    page = client.get("/billing/invoices/").text

    today = date.today()
    last_month_end = today.replace(day=1).toordinal() - 1
    assert f'value="{date.fromordinal(last_month_end).isoformat()}"' in page
