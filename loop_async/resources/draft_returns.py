"""Draft returns, driven by hypermedia: every call returns a :class:`Navigator`.

A draft return is built step by step by following the links Loop offers (``nav.follow(rel,
**values)``). The fixed entry points of the reference are here too; each one reads the draft
first (one GET) and then goes through the navigator's own path: the link Loop offers for that
URL is used when there is one (so values are checked against Loop's current ``fields`` and
``allowed_values``), the action runs under the draft's one-writer lock, and a timeout after
sending is reconciled by re-reading the draft instead of being retried blindly.

The API version decides the link format: ``2026-10`` serves HAL-FORMS, earlier versions
(``v1``, ``2026-07``) Loop's ``links[]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from yarl import URL

from loop_async._convert import structure, unstructure
from loop_async.errors import DecodeError, UnsafeLinkError
from loop_async.hypermedia import HalFormsFormat, LinkFormat, LoopLinksFormat, Navigator, TransitionObserver
from loop_async.models.common import Address
from loop_async.models.draft_returns import DraftReturnResponse
from loop_async.models.enums import FieldType
from loop_async.models.links import Field, Link
from loop_async.resources._validate import Problems
from loop_async.transport import Transport

__all__ = ["HAL_FORMS_VERSIONS", "DraftReturnsResource"]

#: API versions that serve draft returns as HAL-FORMS.
HAL_FORMS_VERSIONS = frozenset({"2026-10"})

_INT, _STRING, _OBJECT = FieldType("int"), FieldType("string"), FieldType("object")


def _required(name: str, type_: FieldType) -> Field:
    return Field(name=name, type=type_, is_required=True)


class _HalDecoder:
    """A HAL-FORMS draft response decodes to the same model, its links read by the format."""

    def __init__(self, fmt: LinkFormat) -> None:
        self._format = fmt

    def __call__(self, data: Any) -> DraftReturnResponse:
        if not isinstance(data, Mapping):
            raise DecodeError(f"draft return: expected a JSON object, got {type(data).__name__}")
        core = {k: v for k, v in data.items() if k not in ("_links", "_templates", "links", "errors")}
        decoded = structure(core, DraftReturnResponse, what="DraftReturnResponse")
        return attrs.evolve(decoded, links=self._format.links(data), errors=self._format.errors(data))


def _decode_links(data: Any) -> DraftReturnResponse:
    return structure(data, DraftReturnResponse, what="DraftReturnResponse")


class DraftReturnsResource:
    """``loop.draft_returns``: create or load a draft return and get a navigator over it."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._observers: list[TransitionObserver] = []
        version = transport.api_root.name
        self.format: LinkFormat = HalFormsFormat() if version in HAL_FORMS_VERSIONS else LoopLinksFormat()
        """The link format of this API version."""
        self._decode = _HalDecoder(self.format) if isinstance(self.format, HalFormsFormat) else _decode_links

    def observe(self, observer: TransitionObserver) -> None:
        """Tell ``observer`` (e.g. a :class:`~loop_async.hypermedia.TransitionRecorder`) of every transition."""
        self._observers.append(observer)

    def _url(self, draft_return_id: int, *segments: str | int) -> URL:
        return self._transport.url("draft-returns", draft_return_id, *segments)

    def _key(self, draft_return_id: int) -> tuple[str, int]:
        return ("draft-return", draft_return_id)

    async def _load(self, draft_return_id: int) -> Navigator[DraftReturnResponse]:
        return await Navigator.load(
            self._transport,
            self._url(draft_return_id),
            format=self.format,
            decode=self._decode,
            key=self._key(draft_return_id),
            observers=self._observers,
        )

    async def create(
        self, order_name: str, secondary_input: str, is_gift: bool = False
    ) -> Navigator[DraftReturnResponse]:
        """Start a draft return for an order (``secondary_input``: the zip or email Loop asks for).

        Not retried after a timeout: there is no id yet to re-read, so a lost create is
        reported as the error it was.
        """
        check = Problems("draft_returns.create")
        check.text("order_name", order_name)
        check.text("secondary_input", secondary_input)
        if not isinstance(is_gift, bool):
            check.add("is_gift", f"must be a bool, got {type(is_gift).__name__}")
        check.raise_if_any()
        body = {"order_name": order_name, "secondary_input": secondary_input, "is_gift": is_gift}
        response = await self._transport.request("POST", self._transport.url("draft-returns"), json=body)
        # Decoded once; its id then gives the navigator its key and self URL.
        nav = Navigator(
            self._transport, response, format=self.format, decode=self._decode, observers=self._observers, created=True
        )
        draft_return_id = nav.resource.draft_return.id
        return nav.with_identity(self._key(draft_return_id), self._url(draft_return_id))

    async def get(self, draft_return_id: int) -> Navigator[DraftReturnResponse]:
        """Load a draft return in its current state."""
        check = Problems("draft_returns.get")
        check.positive_id("draft_return_id", draft_return_id)
        check.raise_if_any()
        return await self._load(draft_return_id)

    async def _fixed(
        self,
        action: str,
        ids: Mapping[str, int],
        method: str,
        segments: tuple[str | int, ...],
        fields: tuple[Field, ...] = (),
        values: Mapping[str, Any] | None = None,
    ) -> Navigator[DraftReturnResponse]:
        check = Problems(f"draft_returns.{action}")
        for name, value in ids.items():
            check.positive_id(name, value)
        check.raise_if_any()
        draft_return_id = ids["draft_return_id"]
        nav = await self._load(draft_return_id)
        url = self._url(draft_return_id, *segments)
        link = _offered(nav, method, url, self._transport) or Link(
            rel=action, href=str(url), method=method, fields=fields
        )
        return await nav.follow_link(link, values)

    async def add_returning_item(self, draft_return_id: int, order_line_item_id: int) -> Navigator[DraftReturnResponse]:
        """Add an order line item (one of ``context.items_eligible_to_return``) to the draft."""
        return await self._fixed(
            "add-returning-item",
            {"draft_return_id": draft_return_id},
            "POST",
            ("returning-items",),
            (_required("order_line_item_id", _INT),),
            {"order_line_item_id": order_line_item_id},
        )

    async def remove_returning_item(
        self, draft_return_id: int, returning_item_id: int
    ) -> Navigator[DraftReturnResponse]:
        """Remove a returning item (``DELETE .../returning-items/{returning_item_id}``)."""
        return await self._fixed(
            f"remove-returning-item-{returning_item_id}",
            {"draft_return_id": draft_return_id, "returning_item_id": returning_item_id},
            "DELETE",
            ("returning-items", returning_item_id),
        )

    async def set_returning_item_user_input(
        self, draft_return_id: int, returning_item_id: int, user_input_id: int, value: Any
    ) -> Navigator[DraftReturnResponse]:
        """Answer a merchant question (``user_input_id``) about a returning item; sent as ``{"value": ...}``."""
        return await self._fixed(
            f"set-returning-item-user-input-{returning_item_id}",
            {
                "draft_return_id": draft_return_id,
                "returning_item_id": returning_item_id,
                "user_input_id": user_input_id,
            },
            "POST",
            ("returning-items", returning_item_id, "user-input", user_input_id),
            (Field(name="value", is_required=True),),
            {"value": value},
        )

    async def set_exchange_item(
        self, draft_return_id: int, returning_item_id: int, variant_id: int
    ) -> Navigator[DraftReturnResponse]:
        """Exchange a returning item for a variant (out of stock: 422 ``product-variant-unavailable``)."""
        return await self._fixed(
            f"set-returning-item-exchange-item-{returning_item_id}",
            {"draft_return_id": draft_return_id, "returning_item_id": returning_item_id},
            "POST",
            ("returning-items", returning_item_id, "exchange-item"),
            (_required("variant_id", _INT),),
            {"variant_id": variant_id},
        )

    async def set_address(
        self, draft_return_id: int, address: Address | Mapping[str, Any]
    ) -> Navigator[DraftReturnResponse]:
        """Set the shipping address (an :class:`~loop_async.models.Address` or a mapping)."""
        raw = unstructure(address) if isinstance(address, Address) else dict(address)
        compact = {name: value for name, value in raw.items() if value is not None}
        return await self._fixed(
            "set-address",
            {"draft_return_id": draft_return_id},
            "POST",
            ("address",),
            (_required("address", _OBJECT),),
            {"address": compact},
        )

    async def submit(self, draft_return_id: int) -> Navigator[DraftReturnResponse]:
        """Submit the draft: Loop creates the return (``draft_return.return_id``, state ``submitted``)."""
        return await self._fixed("submit-draft-return", {"draft_return_id": draft_return_id}, "POST", ("submit",))


def _offered(nav: Navigator[DraftReturnResponse], method: str, url: URL, transport: Transport) -> Link | None:
    """The link Loop offers now for this method and URL, if any (its fields are the current truth)."""
    for link in nav.links:
        try:
            href = transport.resolve(link.href)
        except (DecodeError, UnsafeLinkError):
            continue  # a link we would never follow cannot be the one we look for
        if link.method.upper() == method and href.with_query(None).with_fragment(None) == url:
            return link
    return None
