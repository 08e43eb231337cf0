"""Money: exact `Decimal` amounts in a currency, rounded once with an explicit mode.

Amounts are never binary floats. Pricing keeps full precision; a CDR or an invoice rounds each of
its totals once, to the currency's minor unit, with ROUND_HALF_UP (0.005 → 0.01, -0.005 → -0.01),
the rounding consumers expect on a receipt.
"""

from decimal import ROUND_HALF_UP, Decimal

ROUNDING = ROUND_HALF_UP
# ISO 4217 minor units that differ from 2; every other currency has cents.
_MINOR_UNITS = {"BHD": 3, "CLP": 0, "HUF": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3}


def minor_units(currency: str) -> int:
    """How many decimals the currency's smallest unit has (EUR 2, JPY 0, KWD 3)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def money_round(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` to the currency's minor unit with ROUND_HALF_UP."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUNDING)


def to_minor(amount: Decimal, currency: str) -> int:
    """The amount in the currency's minor unit as an integer (what payment providers want)."""
    return int(money_round(amount, currency).scaleb(minor_units(currency)))


def vat_of(net: Decimal, vat_percent: Decimal) -> Decimal:
    """The exact VAT on a net amount."""
    return Decimal(net) * Decimal(vat_percent) / 100
