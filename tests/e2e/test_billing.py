"""Issue 5's done-when, end to end: a 10 kWh session on a simulated station is priced by the worker
from the live system's events, both the driver and the operator see the price, and the invoice run
issues one numbered PDF invoice for it — once."""

import re
import subprocess
from datetime import date

import pytest
from playwright.sync_api import expect

from billing.models import Invoice
from billing.services import tariff_create
from rfid.services import id_token_create
from stations.models import Session
from tests.e2e.conftest import in_thread, log_in
from tests.support import manage_py

pytestmark = pytest.mark.django_db(transaction=True)

TARIFF = {
    "code": "E2E-DONE-WHEN",
    "name": "Issue 5",
    "currency": "EUR",
    "vat_percent": "25",
    "is_default": True,
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.30", "step_size": 1},
                {"type": "FLAT", "price": "1.00", "step_size": 1},
            ]
        }
    ],
}


def invoice(live_system, day: date) -> str:
    """`manage.py invoice` for one day, against the live system's database; returns its output."""
    process = manage_py(
        "invoice", "--from", day.isoformat(), "--to", day.isoformat(),
        env=live_system.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def test_a_10_kwh_session_costs_4_00_excl_and_5_00_incl_vat_for_driver_operator_and_invoice(
    live_system, stations, new_page, driver, operator
):
    base = live_system.base_url
    # given 0.30/kWh + 1.00 per session with 25 % VAT, and Dana's card
    in_thread(tariff_create, **TARIFF)
    in_thread(
        id_token_create, uid="04BILL0001", printed_number="NL-CNT-BILL-1", driver=driver, label="Work car"
    )
    sim = stations.connect("E2E-BILL-1")

    # when she charges exactly 10 kWh
    async def charge_10_kwh():
        await sim.status(1, "Preparing")
        start = await sim.start_transaction(1, "04BILL0001", meter_start=120_000)
        await sim.status(1, "Charging")
        await sim.meter_values(1, start.transaction_id, energy_wh=125_000, power_w=11_000)
        await sim.meter_values(1, start.transaction_id, energy_wh=130_000, power_w=11_000)
        await sim.stop_transaction(start.transaction_id, meter_stop=130_000, reason="EVDisconnected")
        await sim.status(1, "Available")

    stations.run(charge_10_kwh())

    # then her session page shows the final price, once the worker has made the CDR
    page = new_page(phone=True)
    log_in(page, base, "dana", "pw-dana-1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.get_by_role("row").filter(has_text="E2E-BILL-1").get_by_role("link").click()
    expect(page.locator("#main")).to_contain_text("10.00 kWh")
    cost = page.locator(".billing-cost")
    expect(cost).to_contain_text(re.compile(r"final \(CDR"), timeout=20000)
    expect(cost).to_contain_text("5.00 EUR incl. VAT (4.00 excl.)")

    # and the operator's CDR list shows the same figures
    office = new_page()
    log_in(office, base, "olivia", "pw-olivia-1")
    office.goto(f"{base}/billing/cdrs/")
    row = office.get_by_role("row").filter(has_text="E2E-BILL-1")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("10.00 kWh")
    expect(row).to_contain_text("4.00 EUR")
    expect(row).to_contain_text("5.00 EUR")
    expect(row).to_contain_text("FLAT 1.00 · ENERGY 3.00")

    # when the invoice run covers the day
    day = in_thread(lambda: Session.objects.get(station__identity="E2E-BILL-1").stopped_at.date())
    first = invoice(live_system, day)

    # then it issues one numbered invoice for 5.00 EUR, with a PDF the driver can download
    number = re.search(r"^(\S+)\s+5\.00 EUR\s+dana@example\.com$", first, re.M).group(1)
    assert "1 invoice(s) issued" in first
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My invoices").click()
    page.get_by_role("link", name=number).click()
    lines = page.locator("table").first.locator("tbody tr")
    expect(lines).to_have_count(1)
    expect(lines.locator("td")).to_have_text(
        ["1", re.compile(r"at E2E-BILL-1, 10\.000 kWh"), "25.00", "4.00", "1.00", "5.00"]
    )
    pdf = page.request.get(base + page.get_by_role("link", name=re.compile("PDF")).get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # and running it again issues nothing new
    again = invoice(live_system, day)
    assert "0 invoice(s) issued" in again
    assert in_thread(lambda: list(Invoice.objects.values_list("number", flat=True))) == [number]
