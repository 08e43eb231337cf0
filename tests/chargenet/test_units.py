"""Energy and power as people read them, on every page (here in English)."""

import pytest
from django.utils import translation

from chargenet.templatetags.units import energy, power


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_small_energies_are_shown_in_wh_not_rounded_to_zero_kwh():
    assert energy(48) == "48 Wh"
    assert energy(0) == "0 Wh"


def test_energies_from_one_kwh_are_shown_in_kwh_with_two_decimals():
    assert energy(1000) == "1.00 kWh"
    assert energy(12345) == "12.35 kWh"


def test_power_is_shown_in_kw_with_precision_that_fits_its_size():
    assert power(850) == "850 W"
    assert power(3680) == "3.68 kW"
    assert power(16494) == "16.5 kW"


def test_an_unknown_quantity_is_a_dash():
    assert energy(None) == "—" and power("") == "—"
