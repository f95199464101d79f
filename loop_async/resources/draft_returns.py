"""Draft returns (``loop.draft_returns``): create or load a draft and get a :class:`Navigator`.

The fixed entry points of Loop's reference go through the navigator's own path (the link Loop
offers for that URL, the draft's one-writer lock, a re-read after a timeout); each answer's
format (HAL-FORMS or ``links[]``) is read from the answer, not the API version. No draft state
is kept here between calls: the navigator holds it. Explained in ``docs/draft-returns.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from yarl import URL

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.errors import DecodeError, UnsafeLinkError
from loop_async.hypermedia import HalFormsFormat, LinkFormat, Navigator, NegotiatedFormat, TransitionObserver
from loop_async.models._convert import structure, unstructure
from loop_async.models.common import Address
from loop_async.models.draft_returns import DraftReturn, DraftReturnResponse, Totals
from loop_async.models.enums import FieldType, ProcessingType
from loop_async.models.links import Field, Link

__all__ = ["DraftReturnsResource", "decode_draft_response"]

_INT, _STRING, _OBJECT, _ARRAY = FieldType("int"), FieldType("string"), FieldType("object"), FieldType("array")
_HAL_KEYS = frozenset({"_links", "_templates", "_embedded", "links", "errors"})
_HAL = HalFormsFormat()


def _required(name: str, type_: FieldType) -> Field:
    return Field(name=name, type=type_, is_required=True)


def _is_hal(data: Mapping[str, Any]) -> bool:
    return "_links" in data or "_templates" in data


def decode_draft_response(data: Any) -> DraftReturnResponse:
    """A draft-return answer in either format as one model (HAL-FORMS links read by the format).

    From HAL-FORMS, ``_embedded.processing_type_options`` becomes ``processing_type_options``
    (plain strings are taken as the ``type``).
    """
    if not isinstance(data, Mapping):
        raise DecodeError(f"draft return: expected a JSON object, got {type(data).__name__}")
    if not _is_hal(data):
        return structure(data, DraftReturnResponse, what="DraftReturnResponse")
    core = {k: v for k, v in data.items() if k not in _HAL_KEYS}
    embedded = data.get("_embedded")
    options = embedded.get("processing_type_options") if isinstance(embedded, Mapping) else None
    if isinstance(options, list):
        core["processing_type_options"] = [{"type": o} if isinstance(o, str) else o for o in options]
    decoded = structure(core, DraftReturnResponse, what="DraftReturnResponse")
    return attrs.evolve(decoded, links=_HAL.links(data), errors=_HAL.errors(data))


def _draft_return_id(data: Any) -> int | None:
    """``draft_return.id`` of an answer in either format when it is a JSON integer, else ``None``.

    The same value the decode gives (an exact ``int`` is taken as it is); anything else is left
    to the decode, so that a bad answer raises the same error as before.
    """
    draft = data.get("draft_return") if type(data) is dict else None
    draft_return_id = draft.get("id") if type(draft) is dict else None
    return draft_return_id if type(draft_return_id) is int else None


def _money_keys(value: Any) -> Any:
    """``{amount, currencyCode}`` (the totals endpoint's money) as the SDK's ``{amount, currency}``."""
    if isinstance(value, Mapping):
        return {("currency" if k == "currencyCode" else k): _money_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_money_keys(v) for v in value]
    return value


class DraftReturnsResource:
    """``loop.draft_returns``: create or load a draft return and get a navigator over it."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._observers: list[TransitionObserver] = []
        self.format: LinkFormat = NegotiatedFormat()
        """Reads each answer in the format it came in (HAL-FORMS or ``links[]``)."""
        self._decode = decode_draft_response

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
        reported as the error it was. As for every navigator, the draft is decoded when
        ``nav.resource`` is first read; an answer whose draft id cannot be read raises its
        :class:`~loop_async.errors.DecodeError` here.
        """
        check = Problems("draft_returns.create")
        check.text("order_name", order_name)
        check.text("secondary_input", secondary_input)
        if not isinstance(is_gift, bool):
            check.add("is_gift", f"must be a bool, got {type(is_gift).__name__}")
        check.raise_if_any()
        body = {"order_name": order_name, "secondary_input": secondary_input, "is_gift": is_gift}
        response = await self._transport.request("POST", self._transport.url("draft-returns"), json=body)
        nav = Navigator(
            self._transport, response, format=self.format, decode=self._decode, observers=self._observers, created=True
        )
        # The id gives the navigator its key and self URL. Read from the JSON when it is plainly
        # there, the resource stays undecoded until asked for; else the decode decides (and raises).
        draft_return_id = _draft_return_id(response.data)
        if draft_return_id is None:
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
        values: Mapping[str, Any] | Callable[[Link], Mapping[str, Any]] | None = None,
        *,
        by_rel: bool = False,
    ) -> Navigator[DraftReturnResponse]:
        """Follow the link offered for ``segments`` (or, with ``by_rel``, for the rel ``action``).

        ``values`` may be a function of the link, for a body whose shape the offered link
        decides (the address: wrapped on ``links[]``, flat on HAL-FORMS).
        """
        check = Problems(f"draft_returns.{action}")
        for name, value in ids.items():
            check.positive_id(name, value)
        check.raise_if_any()
        draft_return_id = ids["draft_return_id"]
        nav = await self._load(draft_return_id)
        url = self._url(draft_return_id, *segments)
        offered = nav.links.get(action) if by_rel else None
        link = (
            offered
            or _offered(nav, method, url, self._transport)
            or Link(rel=action, href=str(url), method=method, fields=fields)
        )
        return await nav.follow_link(link, values(link) if callable(values) else values)

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
        """Set the shipping address (an :class:`~loop_async.models.Address` or a mapping).

        Sent as the offered link asks: ``{"address": {...}}`` where its one field is ``address``
        (``links[]``, ``2026-07``), else flat (``2026-10``: ``name``, ``company``, ``address1``,
        ..., ``phone`` at the top level, each checked against the template's properties).
        """
        raw = unstructure(address) if isinstance(address, Address) else dict(address)
        compact = {name: value for name, value in raw.items() if value is not None}

        def shaped(link: Link) -> Mapping[str, Any]:
            wrapped = not link.fields or link.field("address") is not None
            return {"address": compact} if wrapped else compact

        return await self._fixed(
            "set-address",
            {"draft_return_id": draft_return_id},
            "POST",
            ("address",),
            (_required("address", _OBJECT),),
            shaped,
        )

    async def accept_return_policy(self, draft_return_id: int) -> Navigator[DraftReturnResponse]:
        """Accept the shop's return policy for this draft (``POST .../accept-return-policy``)."""
        return await self._fixed(
            "accept-return-policy", {"draft_return_id": draft_return_id}, "POST", ("accept-return-policy",)
        )

    async def set_processing_type(
        self, draft_return_id: int, processing_type: ProcessingType | str
    ) -> Navigator[DraftReturnResponse]:
        """Set ``regular`` or ``instant`` processing (one of ``processing_type_options``).

        Loop offers the ``set-processing-type`` template in ``items-finalized``; a type not on
        offer is refused before sending when the template lists its options, else by Loop
        (422 ``action-validation-failed``). Its path is not documented: the offered template
        is used, else ``.../processing-type`` (a guess).
        """
        value = processing_type.value if isinstance(processing_type, ProcessingType) else processing_type
        return await self._fixed(
            "set-processing-type",
            {"draft_return_id": draft_return_id},
            "POST",
            ("processing-type",),
            (_required("processing_type", _STRING),),
            {"processing_type": value},
            by_rel=True,
        )

    async def set_cart(self, draft_return_id: int, variant_ids: Sequence[int]) -> Navigator[DraftReturnResponse]:
        """Set the whole cart at once (``POST .../cart``): the shop-now items become exactly ``variant_ids``.

        The body (``{"variant_ids": [...]}``) is a guess where Loop's reference is silent.
        """
        check = Problems("draft_returns.set_cart")
        if isinstance(variant_ids, str | bytes) or not isinstance(variant_ids, Sequence):
            check.add("variant_ids", f"must be a list of variant ids, got {type(variant_ids).__name__}")
        else:
            for index, variant_id in enumerate(variant_ids):
                check.positive_id(f"variant_ids[{index}]", variant_id)
        check.raise_if_any()
        return await self._fixed(
            "set-cart",
            {"draft_return_id": draft_return_id},
            "POST",
            ("cart",),
            (_required("variant_ids", _ARRAY),),
            {"variant_ids": list(variant_ids)},
            by_rel=True,
        )

    async def totals(self, draft_return_id: int) -> Totals:
        """The draft's totals (``GET .../totals``; Loop sends money as ``{amount, currencyCode}``)."""
        check = Problems("draft_returns.totals")
        check.positive_id("draft_return_id", draft_return_id)
        check.raise_if_any()
        response = await self._transport.request("GET", self._url(draft_return_id, "totals"))
        data = response.data
        if isinstance(data, Mapping) and isinstance(data.get("totals"), Mapping):
            data = data["totals"]  # an envelope around the totals (a guess: both are read)
        return structure(_money_keys(data), Totals, what="Totals")

    async def list(self) -> tuple[DraftReturn, ...]:
        """The shop's draft returns (``GET /draft-returns``: HAL-FORMS only, the drafts in ``_embedded``).

        On ``v1``/``2026-07`` Loop serves the list only to a client that asks for HAL-FORMS:
        create the client with ``hal_forms=True`` (else Loop answers ``unsupported-feature``).
        Each embedded item is a draft return, or an envelope holding one in ``draft_return``.
        """
        response = await self._transport.request("GET", self._transport.url("draft-returns"))
        data = response.data
        embedded = data.get("_embedded") if isinstance(data, Mapping) else None
        if not isinstance(embedded, Mapping):
            raise DecodeError("draft-return list: expected a HAL-FORMS body with _embedded", status=response.status)
        items = embedded.get("draft_returns", next(iter(embedded.values()), []) if len(embedded) == 1 else [])
        if not isinstance(items, list):
            raise DecodeError("draft-return list: _embedded.draft_returns is not a JSON array", status=response.status)
        drafts = [item.get("draft_return", item) if isinstance(item, Mapping) else item for item in items]
        return structure(drafts, tuple[DraftReturn, ...], what="draft-return list")

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
