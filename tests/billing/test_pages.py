"""Billing pages: who sees what, the live cost partial, PDFs, the tariff preview and reports."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import services
from billing.models import Tariff
from tests.billing.conftest import make_session

OCTOBER = services.InvoicePeriod(datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date())


@pytest.fixture
def dana_session(station, card, done_when_tariff):
    return make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))


@pytest.fixture
def dana_invoice(dana_session):
    services.cdr_create_for_session(session_id=dana_session.pk)
    (invoice,) = services.invoice_run(period=OCTOBER)
    return invoice


def test_a_driver_sees_the_cost_of_their_own_session(client, driver, dana_session):
    client.force_login(driver.user)

    response = client.get(f"/billing/sessions/{dana_session.pk}/cost/")

    assert response.status_code == 200
    assert "5.00 EUR" in response.content.decode()


def test_a_driver_cannot_see_the_cost_of_someone_elses_session(client, other_driver, dana_session):
    client.force_login(other_driver.user)

    assert client.get(f"/billing/sessions/{dana_session.pk}/cost/").status_code == 404


def test_an_operator_sees_any_sessions_cost_and_the_final_breakdown(client, operator, dana_session):
    services.cdr_create_for_session(session_id=dana_session.pk)
    client.force_login(operator)

    page = client.get(f"/billing/sessions/{dana_session.pk}/cost/").content.decode()

    assert "final" in page and "ENERGY" in page and "FLAT" in page


def test_a_driver_downloads_their_invoice_pdf_but_gets_404_for_anothers(
    client, driver, other_driver, dana_invoice
):
    client.force_login(driver.user)
    response = client.get(f"/billing/invoices/{dana_invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert dana_invoice.number in client.get("/billing/invoices/").content.decode()

    client.force_login(other_driver.user)
    assert client.get(f"/billing/invoices/{dana_invoice.pk}/").status_code == 404
    assert client.get(f"/billing/invoices/{dana_invoice.pk}/pdf/").status_code == 404
    assert dana_invoice.number not in client.get("/billing/invoices/").content.decode()


def test_an_operator_records_a_bank_transfer_and_the_invoice_is_paid(client, operator, dana_invoice):
    client.force_login(operator)

    client.post(f"/billing/invoices/{dana_invoice.pk}/payments/", {"amount": "5.00", "reference": "NL12 tx"})

    dana_invoice.refresh_from_db()
    assert dana_invoice.status == "paid"


def test_a_viewer_cannot_record_payments(client, viewer, dana_invoice):
    client.force_login(viewer)

    response = client.post(f"/billing/invoices/{dana_invoice.pk}/payments/", {"amount": "5.00"})

    assert response.status_code == 403
    assert not dana_invoice.payments.exists()


def test_the_tariff_preview_answers_thirty_kwh_at_22_kw_on_saturday_at_18(client, operator):
    client.force_login(operator)

    response = client.post(
        "/billing/tariffs/preview/",
        {
            "currency": "EUR",
            "vat_percent": "21",
            "elements": '[{"price_components": [{"type": "ENERGY", "price": 0.25}],'
            ' "restrictions": {"day_of_week": ["SATURDAY"], "start_time": "18:00"}},'
            ' {"price_components": [{"type": "ENERGY", "price": "0.40"}]}]',
            "energy_kwh": "30",
            "power_kw": "22",
            "start_time": "18:00",
            "weekday": "5",
        },
    )

    assert "9.08 EUR" in response.content.decode()  # 30 × 0.25 = 7.50 + 21 %


def test_an_operator_saves_a_tariff_and_an_invalid_one_is_refused_with_the_reason(client, operator):
    client.force_login(operator)
    form = {"code": "NIGHT", "name": "Night", "currency": "EUR", "vat_percent": "21"}

    bad = client.post("/billing/tariffs/new/", {**form, "elements": '[{"price_components": []}]'})
    assert "at least one price component" in bad.content.decode()
    assert not Tariff.objects.filter(code="NIGHT").exists()

    client.post(
        "/billing/tariffs/new/",
        {**form, "elements": '[{"price_components": [{"type": "TIME", "price": 1.5}]}]'},
    )
    tariff = Tariff.objects.get(code="NIGHT")
    assert tariff.elements[0]["price_components"][0] == {"type": "TIME", "price": "1.5", "step_size": 1}


def test_drivers_cannot_open_the_tariff_editor(client, driver):
    client.force_login(driver.user)

    assert client.get("/billing/tariffs/new/").status_code == 403


def test_the_revenue_report_and_csv_export_show_the_period(client, operator, dana_session):
    services.cdr_create_for_session(session_id=dana_session.pk)
    client.force_login(operator)

    report = client.get("/billing/reports/revenue/?from=2026-10-01&to=2026-10-31").content.decode()
    export = b"".join(client.get("/billing/cdrs/export.csv?from=2026-10-01&to=2026-10-31").streaming_content)

    assert "Harbour" in report and "<svg" in report and "4.00 EUR" in report
    rows = export.decode().splitlines()
    assert len(rows) == 2 and rows[1].endswith("25.00,4.0000,1.0000,5.0000")
    assert Decimal(rows[1].split(",")[10]) == Decimal("10")


def test_the_overview_revenue_tiles_count_todays_and_this_months_sessions(
    client, viewer, station, card, done_when_tariff
):
    # given a 10 kWh session that ended a minute ago and one from long before this month
    from django.utils import timezone

    recent = make_session(station, card, started_at=timezone.now() - timedelta(minutes=16), minutes=15)
    old = make_session(station, card, started_at=datetime(2025, 1, 6, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=recent.pk)
    services.cdr_create_for_session(session_id=old.pk)
    client.force_login(viewer)

    # when the dashboard loads the revenue slot
    page = client.get("/billing/partials/revenue/").content.decode()

    # then only the recent session counts: 4.00 excl. VAT, today and this month
    assert page.count("4.00 EUR") == 2


def test_drivers_cannot_see_the_operators_revenue(client, driver):
    client.force_login(driver.user)

    assert client.get("/billing/partials/revenue/").status_code == 403
