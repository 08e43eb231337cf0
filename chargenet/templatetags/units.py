"""Quantities as people read them: energy in Wh or kWh, power in W or kW, with sane precision."""

from django import template

register = template.Library()


@register.filter
def energy(wh) -> str:
    """Wh as "48 Wh" below 1 kWh, "12.35 kWh" from there ("—" when unknown)."""
    try:
        value = float(wh)
    except (TypeError, ValueError):
        return "—"
    if abs(value) < 1000:
        return f"{value:,.0f} Wh"
    return f"{value / 1000:,.2f} kWh"


@register.filter
def power(w) -> str:
    """W as "850 W" below 1 kW, "3.68 kW" below 10 kW, "16.5 kW" from there ("—" when unknown)."""
    try:
        value = float(w)
    except (TypeError, ValueError):
        return "—"
    if abs(value) < 1000:
        return f"{value:,.0f} W"
    kw = value / 1000
    return f"{kw:,.2f} kW" if abs(kw) < 10 else f"{kw:,.1f} kW"
