"""Quantities as people read them: energy in Wh or kWh, power in W or kW, with sane precision and
the viewer's language's decimal and thousands separators ("12.35 kWh", "12,35 kWh")."""

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def energy(wh) -> str:
    """Wh as "48 Wh" below 1 kWh, "12.35 kWh" from there ("—" when unknown)."""
    try:
        value = float(wh)
    except (TypeError, ValueError):
        return "—"
    if abs(value) < 1000:
        return f"{_number(value, 0)} Wh"
    return f"{_number(value / 1000, 2)} kWh"


@register.filter
def power(w) -> str:
    """W as "850 W" below 1 kW, "3.68 kW" below 10 kW, "16.5 kW" from there ("—" when unknown)."""
    try:
        value = float(w)
    except (TypeError, ValueError):
        return "—"
    if abs(value) < 1000:
        return f"{_number(value, 0)} W"
    kw = value / 1000
    return f"{_number(kw, 2)} kW" if abs(kw) < 10 else f"{_number(kw, 1)} kW"


def _number(value: float, places: int) -> str:
    return number_format(round(value, places), places, use_l10n=True, force_grouping=True)
