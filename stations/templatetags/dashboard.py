"""Template helpers of the operator dashboard."""

from django import template
from django.urls import Resolver404, resolve
from django.utils.html import format_html

from chargenet.templatetags.units import energy

register = template.Library()


@register.simple_tag
def partial_slot(url: str, events: str = "", label: str = "", empty: str = "") -> str:
    """An htmx slot that another app fills (e.g. billing's revenue), rendered only when its URL
    resolves, so the stations app shows it without importing that app."""
    try:
        resolve(url.split("?", 1)[0])
    except Resolver404:
        return format_html('<p class="muted">{}</p>', empty) if empty else ""
    trigger = "load" + "".join(f", cn-{event.replace('.', '-')} from:body" for event in events.split())
    return format_html(
        '<div class="slot" hx-get="{}" hx-trigger="{}" hx-swap="innerHTML" aria-live="polite" aria-label="{}">'
        '<span class="muted">Loading…</span></div>',
        url,
        trigger,
        label,
    )


# The dashboard's energy figures read like every other page's (chargenet's units).
register.filter("kwh", energy)
