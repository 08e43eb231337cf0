"""The tariff form: prices and their conditions as fields, a preview, the JSON kept for the API."""

import os

import pytest

from billing import services
from billing.models import Tariff
from tests.browser import PHONE
from tests.support import CHROMIUM

FORM = {"code": "EVENING", "name": "Evening", "currency": "EUR", "vat_percent": "21"}


def _rows(*rows):
    data = {"rows": str(len(rows))}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"el-{index}-{key}"] = value
    return data


@pytest.mark.django_db
def test_an_operator_builds_an_evening_price_and_an_all_day_price_without_writing_json(client, operator):
    client.force_login(operator)

    response = client.post(
        "/billing/tariffs/new/",
        {
            **FORM,
            **_rows(
                {"type": "ENERGY", "price": "0.45", "step_size": "1", "start_time": "18:00", "end_time": "22:00",
                 "day_of_week": ["MONDAY", "FRIDAY"], "min_duration": "30"},
                {"type": "ENERGY", "price": "0.30", "step_size": "1"},
                {"type": "FLAT", "price": "", "step_size": "1"},  # a blank row is left out
            ),
        },
    )  # fmt: skip

    assert response.status_code == 302
    assert Tariff.objects.get(code="EVENING").elements == [
        {
            "price_components": [{"type": "ENERGY", "price": "0.45", "step_size": 1}],
            "restrictions": {"start_time": "18:00", "end_time": "22:00", "min_duration": 1800,
                             "day_of_week": ["MONDAY", "FRIDAY"]},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    ]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"type": "ENERGY", "price": "cheap"}, "price"),
        ({"type": "ENERGY", "price": "0.30", "start_time": "25:00"}, "start_time must be a local time HH:MM"),
        (
            {"type": "ENERGY", "price": "0.30", "step_size": "one"},
            "row 1: the step size must be a whole number",
        ),
        ({"type": "ENERGY", "price": "0.30", "min_duration": "soon"}, "row 1: minutes must be a number"),
    ],
    ids=["price", "time", "step", "minutes"],
)
def test_a_bad_row_is_refused_with_the_reason_and_the_users_input_kept(client, operator, row, message):
    client.force_login(operator)

    response = client.post("/billing/tariffs/new/", {**FORM, **_rows(row)})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert f'value="{row["price"]}"' in response.content.decode()
    assert not Tariff.objects.filter(code="EVENING").exists()


@pytest.mark.django_db
def test_an_api_made_tariff_shows_as_rows_and_saves_back_unchanged(client, operator):
    elements = [
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.25", "step_size": 1},
                {"type": "PARKING_TIME", "price": "2.00", "step_size": 300},
            ],
            "restrictions": {"min_kwh": "10", "day_of_week": ["SATURDAY", "SUNDAY"]},
        }
    ]
    tariff = services.tariff_create(
        code="WEEKEND", name="Weekend", currency="EUR", vat_percent="21", elements=elements
    )
    client.force_login(operator)

    page = client.get(f"/billing/tariffs/{tariff.pk}/").content.decode()

    assert 'name="rows" value="4"' in page  # two prices and two blank rows
    assert 'name="el-1-price" value="2.00"' in page


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_on_a_phone_the_operator_fills_a_price_and_previews_a_sessions_cost(
    logged_in, live_server_url, operator
):
    from playwright.sync_api import expect

    # given the new-tariff form on a phone
    page = logged_in(operator, PHONE).new_page()
    page.goto(f"{live_server_url}/billing/tariffs/new/")

    # when the operator fills in 0.40 per kWh and asks what 30 kWh would cost
    page.locator('[name="el-0-price"]').first.fill("0.40")
    page.get_by_label("VAT %").fill("25")
    page.get_by_role("button", name="What would it cost?").click()

    # then the preview prices the energy: 30 kWh × 0.40 = 12.00 excl. VAT
    expect(page.locator("#preview")).to_contain_text("12.00")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
