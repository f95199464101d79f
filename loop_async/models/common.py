"""Small value objects shared across the API: money, errors, people and places."""

from __future__ import annotations

from decimal import Decimal

import attrs

__all__ = ["Address", "ApiErrorEntry", "Customer", "DecimalMoney", "Money"]


@attrs.frozen(kw_only=True)
class Money:
    """An amount in integer minor units (cents) and its ISO 4217 currency, as Loop sends it."""

    amount: int
    currency: str | None = None

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exactly (assumes two decimal places, as USD/EUR)."""
        return Decimal(self.amount).scaleb(-2)


@attrs.frozen(kw_only=True)
class DecimalMoney:
    """An exact decimal amount (Loop sends return-data money as strings) and its currency."""

    amount: Decimal
    currency: str | None = None


@attrs.frozen(kw_only=True)
class ApiErrorEntry:
    """One entry of Loop's ``errors[]``: a code (kebab or SCREAMING case), a message, a field."""

    code: str | None = None
    message: str | None = None
    field: str | None = None


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
