"""Small value objects shared across the API: money, errors, people and places."""

from __future__ import annotations

from decimal import Decimal

import attrs

from loop_async.errors import ApiErrorEntry  # defined with the errors that carry it

__all__ = ["Address", "ApiErrorEntry", "Customer", "DecimalMoney", "Money"]


# ISO 4217 currencies whose minor unit is not 1/100 (the default).
_MINOR_UNIT_EXPONENTS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF",
         "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}  # fmt: skip


@attrs.frozen(kw_only=True)
class Money:
    """An amount in integer minor units (cents) and its ISO 4217 currency, as Loop sends it."""

    amount: int
    currency: str | None = None

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exactly, by the currency's ISO 4217 minor unit.

        ``Money(amount=2500, currency="USD").decimal == Decimal("25.00")``; JPY has no minor
        unit (``2500`` yen), KWD three decimals. An unknown or missing currency assumes two.
        """
        exponent = _MINOR_UNIT_EXPONENTS.get((self.currency or "").upper(), 2)
        return Decimal(self.amount).scaleb(-exponent)


@attrs.frozen(kw_only=True)
class DecimalMoney:
    """An exact decimal amount (Loop sends return-data money as strings) and its currency."""

    amount: Decimal
    currency: str | None = None


@attrs.frozen(kw_only=True)
class Customer:
    """The customer of a draft return."""

    email: str | None = None


@attrs.frozen(kw_only=True)
class Address:
    """A postal address (shipping address of a draft return)."""

    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None
