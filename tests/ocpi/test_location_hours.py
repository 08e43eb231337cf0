"""Opening times and energy mix in the Locations and Tariffs a partner pulls (OCPI 2.2.1 Hours,
EnergyMix), from the location's opening-hours schedule rules and the OCPI_ENERGY_* settings."""

from datetime import UTC, datetime, time

import pytest

from billing.services import tariff_create
from smartcharging.services import schedule_rule_create

pytestmark = pytest.mark.django_db


def pulled_location(ocpi, token, location) -> dict:
    return ocpi("GET", f"/ocpi/2.2.1/locations/{location.pk}", token=token).body["data"]


def test_a_location_without_opening_hours_is_open_around_the_clock(ocpi, registered, network):
    _, token = registered

    assert pulled_location(ocpi, token, network[0])["opening_times"] == {"twentyfourseven": True}


def test_opening_hours_rules_become_regular_hours_in_local_time(ocpi, registered, network):
    _, token = registered
    harbour = network[0]
    # given weekdays 07:00–19:00 and a Saturday night window past midnight
    schedule_rule_create(name="Weekdays", kind="opening_hours", location=harbour, weekdays=[0, 1, 2, 3, 4],
                         start_time=time(7), end_time=time(19))  # fmt: skip
    schedule_rule_create(name="Saturday night", kind="opening_hours", location=harbour, weekdays=[5],
                         start_time=time(20), end_time=time(2))  # fmt: skip

    hours = pulled_location(ocpi, token, harbour)["opening_times"]

    assert hours["twentyfourseven"] is False
    assert hours["regular_hours"] == [
        *({"weekday": day, "period_begin": "07:00", "period_end": "19:00"} for day in range(1, 6)),
        {"weekday": 6, "period_begin": "20:00", "period_end": "23:59"},
        {"weekday": 7, "period_begin": "00:00", "period_end": "02:00"},
    ]
    # the other location keeps its own (none)
    assert pulled_location(ocpi, token, network[1])["opening_times"] == {"twentyfourseven": True}


def test_a_coming_maintenance_window_is_an_exceptional_closing(ocpi, registered, network):
    _, token = registered
    harbour = network[0]
    schedule_rule_create(name="New cables", kind="maintenance", location=harbour,
                         starts_at=datetime(2099, 5, 1, 6, tzinfo=UTC), ends_at=datetime(2099, 5, 1, 12, tzinfo=UTC))  # fmt: skip
    schedule_rule_create(name="Long ago", kind="maintenance", location=harbour,
                         starts_at=datetime(2020, 5, 1, 6, tzinfo=UTC), ends_at=datetime(2020, 5, 1, 12, tzinfo=UTC))  # fmt: skip

    hours = pulled_location(ocpi, token, harbour)["opening_times"]

    assert hours == {
        "twentyfourseven": True,
        "exceptional_closings": [
            {"period_begin": "2099-05-01T06:00:00Z", "period_end": "2099-05-01T12:00:00Z"}
        ],
    }


def test_the_energy_mix_is_published_in_locations_and_tariffs_once_the_supplier_is_set(
    ocpi, registered, network, settings
):
    _, token = registered
    tariff_create(code="AC-1", name="AC", currency="EUR",
                  elements=[{"price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}]}])  # fmt: skip
    assert "energy_mix" not in pulled_location(ocpi, token, network[0])

    settings.OCPI_ENERGY_SUPPLIER, settings.OCPI_ENERGY_GREEN = "Windstroom BV", True
    settings.OCPI_ENERGY_PRODUCT = "100% Dutch wind"

    mix = {
        "is_green_energy": True,
        "supplier_name": "Windstroom BV",
        "energy_product_name": "100% Dutch wind",
    }
    assert pulled_location(ocpi, token, network[0])["energy_mix"] == mix
    assert ocpi("GET", "/ocpi/2.2.1/tariffs", token=token).body["data"][0]["energy_mix"] == mix
