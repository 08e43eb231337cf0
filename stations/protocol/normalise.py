"""Units and timestamps at the protocol boundary: energy in Wh, power in W, aware UTC datetimes."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# unit as sent → (stored unit, factor)
UNITS: dict[str, tuple[str, int]] = {
    "Wh": ("Wh", 1),
    "kWh": ("Wh", 1000),
    "varh": ("varh", 1),
    "kvarh": ("varh", 1000),
    "W": ("W", 1),
    "kW": ("W", 1000),
    "VA": ("VA", 1),
    "kVA": ("VA", 1000),
    "var": ("var", 1),
    "kvar": ("var", 1000),
    "A": ("A", 1),
    "V": ("V", 1),
    "K": ("K", 1),
    "Celsius": ("Celsius", 1),
    "Celcius": ("Celsius", 1),  # the 1.6 schema's own typo
    "Fahrenheit": ("Fahrenheit", 1),
    "Percent": ("Percent", 1),
}
FOUR_PLACES = Decimal("0.0001")
# A sampled value must fit MeterSample.value (20 digits, 4 after the point); no real meter reads 10^15
# of anything, so a larger value is a broken meter and is dropped.
VALUE_LIMIT = Decimal(10) ** 15


def timestamp_parse(value: Any) -> datetime:
    """Parse an OCPP timestamp (ISO 8601 / RFC 3339, any offset or fraction) to an aware UTC datetime;
    a missing or unreadable one, or one whose offset overflows the calendar, is now (never refuse a
    message for it). Whether the time is plausible is the services' call: they know the station."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is not None:
            return parsed
    return datetime.now(UTC)


def timestamp_format(value: datetime | None = None) -> str:
    """RFC 3339 in UTC with millisecond precision and a Z (2.0.1 Part 2 §3.1; fine for 1.6)."""
    value = (value or datetime.now(UTC)).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _default_unit(measurand: str) -> str:
    if measurand.startswith("Energy"):
        return "Wh"
    if measurand.startswith("Power.Factor"):
        return ""
    if measurand.startswith("Power"):
        return "W"
    if measurand.startswith("Current"):
        return "A"
    if measurand == "Voltage":
        return "V"
    if measurand == "SoC":
        return "Percent"
    return ""


def sampled_value_normalise(
    sampled: dict[str, Any], *, timestamp: datetime, multiplier: int = 0
) -> dict[str, Any] | None:
    """One OCPP sampledValue (snake_case keys) as MeterSample fields with the unit normalised
    (kWh → Wh, kW → W …; 2.0.1 multiplier applied); None when the value is not a number."""
    measurand = str(sampled.get("measurand") or "Energy.Active.Import.Register")[:64]
    unit_sent = str(sampled.get("unit") or _default_unit(measurand))
    unit, factor = UNITS.get(unit_sent, (unit_sent[:12], 1))
    fields = {
        "timestamp": timestamp,
        "measurand": measurand,
        "phase": str(sampled.get("phase") or "")[:8],
        "location": str(sampled.get("location") or "Outlet")[:8],
        "context": str(sampled.get("context") or "Sample.Periodic")[:24],
        "unit": unit,
    }
    raw = sampled.get("value")
    if sampled.get("format") == "SignedData":
        # 1.6: the reading exists only inside the signed blob; 0 stands in for it (not a reading).
        return {**fields, "value": Decimal(0), "signed_data": str(raw)}
    try:
        value = Decimal(str(raw)) * factor * (Decimal(10) ** multiplier)
    except (ArithmeticError, ValueError):  # InvalidOperation, and Overflow of a huge exponent
        return None
    if not value.is_finite() or abs(value) >= VALUE_LIMIT:
        return None
    return {**fields, "value": value.quantize(FOUR_PLACES), "signed_data": _signed_meter_value(sampled)}


def _signed_meter_value(sampled: dict[str, Any]) -> str:
    """A 2.0.1 sampledValue's signedMeterValue (J01.FR.21, J02.FR.21) as the station sent it, in
    OCPP's camelCase JSON, so that a driver or auditor can verify the reading; "" when unsigned."""
    signed = sampled.get("signed_meter_value")
    if not isinstance(signed, dict):
        return ""
    return json.dumps(
        {camel_case(str(key)): value for key, value in signed.items()}, separators=(",", ":"), sort_keys=True
    )


def camel_case(name: str) -> str:
    """snake_case (as the library hands keys) → OCPP's camelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def meter_values_normalise(meter_values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A 1.6 or 2.0.1 meterValue list (snake_case keys) as normalised MeterSample fields."""
    samples = []
    for meter_value in meter_values or []:
        timestamp = timestamp_parse(meter_value.get("timestamp"))
        for sampled in meter_value.get("sampled_value") or []:
            unit_of_measure = sampled.get("unit_of_measure") or {}
            if unit_of_measure:  # 2.0.1 shape
                sampled = {**sampled, "unit": unit_of_measure.get("unit")}
            sample = sampled_value_normalise(
                sampled, timestamp=timestamp, multiplier=int(unit_of_measure.get("multiplier", 0) or 0)
            )
            if sample is not None:
                samples.append(sample)
    return samples
