"""The invoice page in headless Chromium, on a desktop and on a phone."""

import os
from datetime import date

import pytest

from billing import services
from tests.billing.conftest import make_session
from tests.browser import DESKTOP, PHONE, outside_the_browser_loop, tables_on
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


def _invoice(station, card):
    session = make_session(station, card)
    services.cdr_create_for_session(session_id=session.pk)
    (invoice,) = services.invoice_run(period=OCTOBER)
    return invoice


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_invoice_keeps_every_column_and_its_totals_aligned(
    logged_in, live_server_url, driver, station, card, done_when_tariff, viewport
):
    # given Dana's invoice for October
    invoice = outside_the_browser_loop(_invoice, station=station, card=card)
    page = logged_in(driver.user, viewport).new_page()

    # when she opens it
    page.goto(f"{live_server_url}/billing/invoices/{invoice.pk}/")

    # then the lines keep their VAT column and the footer lines up with the columns
    lines = tables_on(page)[0]
    assert lines["headers"] == ["#", "Description", "VAT %", "Net", "VAT", "Total"]
    assert set(lines["spans"]) == {6}
    assert lines["scrolls"]
