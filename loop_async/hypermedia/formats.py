"""Link-format adapters: turn a JSON response into generic :class:`Link` objects.

A format knows only where a response keeps its links, their fields and its errors; it knows
nothing of any state machine. Two ship with the SDK:

- :class:`LoopLinksFormat`: Loop's ``links[]`` (``rel``, ``href``, ``method``, ``fields``,
  ``is_required``), as served by API versions ``v1``/``2026-07``;
- :class:`HalFormsFormat`: HAL-FORMS (``_links`` keyed by rel, ``_templates`` with ``method``,
  ``title``, ``contentType``, ``properties``), as served from ``2026-10``.

Write another by implementing the three methods of :class:`LinkFormat`.

**Lists in a query.** How a GET/DELETE link's values go into the query is the format's
choice: a format may implement :class:`QueryEncoder` (one ``query`` method); otherwise
:func:`repeat_query` is used, which repeats the parameter for each element of a list
(``?id=1&id=2``). :class:`LoopLinksFormat` joins a list with commas (``?id=1,2``), as Loop's
endpoints expect. Booleans become ``true``/``false``.

**Content type.** Values are always sent as JSON. A HAL-FORMS template whose ``contentType``
is something else (e.g. ``application/x-www-form-urlencoded``) is still followed with a JSON
body: the SDK's transport sends JSON bodies only, and :class:`Link` has no content type. The
``2026-10`` draft-return templates are JSON; a server that needs a form body is not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from loop_async._convert import structure
from loop_async.errors import DecodeError
from loop_async.models.common import ApiErrorEntry
from loop_async.models.enums import FieldType
from loop_async.models.links import Field, Link

__all__ = [
    "HalFormsFormat",
    "LinkFormat",
    "LoopLinksFormat",
    "QueryEncoder",
    "comma_query",
    "encode_query",
    "parse_error_entries",
    "repeat_query",
]


@runtime_checkable
class LinkFormat(Protocol):
    """How one hypermedia format stores links, the resource's own URL and errors."""

    def links(self, data: Any) -> tuple[Link, ...]:
        """The actions available in ``data``, in server order."""
        ...

    def self_href(self, data: Any) -> str | None:
        """The URL that re-reads this resource, when the format carries one."""
        ...

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """The errors of a partial failure (empty when there are none)."""
        ...


@runtime_checkable
class QueryEncoder(Protocol):
    """Optional for a :class:`LinkFormat`: how values go into the query of a GET/DELETE link."""

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The query parameters, in order, for JSON-ready ``values``."""
        ...


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def repeat_query(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The default: one parameter per value, a list repeating its name (``id=1&id=2``)."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else (value,)
        pairs.extend((name, _scalar(item)) for item in items)
    return pairs


def comma_query(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One parameter per name, a list joined with commas (``id=1,2``)."""
    return [
        (name, ",".join(_scalar(v) for v in value) if isinstance(value, list | tuple) else _scalar(value))
        for name, value in values.items()
    ]


def encode_query(fmt: LinkFormat, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``values`` as query parameters, the way ``fmt`` wants them (:func:`repeat_query` by default)."""
    if isinstance(fmt, QueryEncoder):
        return fmt.query(values)
    return repeat_query(values)


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise DecodeError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def parse_error_entries(raw: Any) -> tuple[ApiErrorEntry, ...]:
    """Read an ``errors`` value leniently: a list of objects or strings, or one object."""
    if raw is None or raw == [] or raw == {}:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    entries: list[ApiErrorEntry] = []
    for item in items:
        if isinstance(item, str):
            entries.append(ApiErrorEntry(code=item))  # Loop documents errors[] as "an array of error codes"
        elif isinstance(item, Mapping):
            code, message, field = item.get("code"), item.get("message"), item.get("field")
            entries.append(
                ApiErrorEntry(
                    code=None if code is None else str(code),
                    message=None if message is None else str(message),
                    field=None if field is None else str(field),
                )
            )
        else:
            entries.append(ApiErrorEntry(message=str(item)))
    return tuple(entries)


class LoopLinksFormat:
    """Loop's ``links[]`` array, each link carrying its ``fields`` metadata."""

    def links(self, data: Any) -> tuple[Link, ...]:
        """Decode ``data["links"]`` (missing or ``null`` means no links: a terminal state)."""
        body = _object(data, "links[] response")
        return structure(body.get("links") or [], tuple[Link, ...], what="links[]")

    def links_of(self, resource: object, data: Any) -> tuple[Link, ...]:
        """The links of ``data``, taken from its decoded ``resource`` when that already holds them.

        A model of a ``links[]`` envelope (``DraftReturnResponse``) decodes the same ``links``
        key with the same converter: reusing them avoids decoding every link twice.
        """
        carried = getattr(resource, "links", None)
        if (
            type(self).links is LoopLinksFormat.links  # a subclass that reads links its own way decides
            and isinstance(carried, tuple)
            and isinstance(data, Mapping)
            and len(carried) == len(data.get("links") or ())  # the same links, not a filtered set
            and all(isinstance(link, Link) for link in carried)
        ):
            return carried
        return self.links(data)

    def self_href(self, data: Any) -> str | None:
        """Loop's ``links[]`` carry no self link: the resource layer supplies the URL."""
        return None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """The envelope's ``errors[]``."""
        return parse_error_entries(_object(data, "links[] response").get("errors"))

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Loop's style: a list of ids is one comma-separated parameter."""
        return comma_query(values)

    def __repr__(self) -> str:
        return "LoopLinksFormat()"


# HAL-FORMS property types are HTML input types; map the ones with a clear JSON meaning.
_HAL_TYPES: Mapping[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "url": "string",
    "tel": "string",
    "password": "string",
    "search": "string",
    "hidden": "string",
    "checkbox": "bool",
}


class HalFormsFormat:
    """HAL-FORMS: ``_links`` keyed by rel and ``_templates`` keyed by rel.

    Each template becomes a :class:`Link` whose ``href`` is the template's ``target``, else
    the ``_links`` entry of the same rel, else ``self``; its ``properties`` become fields
    (``required`` → ``is_required``, ``prompt`` → description, ``options.inline`` →
    ``allowed_values``; ``options.link`` lists are not fetched, so they are not checked
    client-side). HAL-FORMS has no "required action" flag: a template-level ``"required":
    true`` (an extension) sets ``Link.is_required``. Plain ``_links`` other than ``self`` and
    ``curies`` become GET links without fields.
    """

    _RESERVED = frozenset({"self", "curies"})

    def links(self, data: Any) -> tuple[Link, ...]:
        """Templates first (the actions), then the plain navigational links."""
        body = _object(data, "HAL-FORMS response")
        raw_links = body.get("_links") or {}
        raw_templates = body.get("_templates") or {}
        if not isinstance(raw_links, Mapping) or not isinstance(raw_templates, Mapping):
            raise DecodeError("HAL-FORMS response: _links and _templates must be JSON objects")
        self_href = self.self_href(body)
        result: list[Link] = []
        for rel, template in raw_templates.items():
            tpl = _object(template, f"HAL-FORMS template {rel!r}")
            href = tpl.get("target") or _href(raw_links.get(rel)) or self_href
            if not isinstance(href, str):
                raise DecodeError(f"HAL-FORMS template {rel!r}: no target and no self link")
            title = tpl.get("title")
            result.append(
                Link(
                    rel=str(rel),
                    href=href,
                    method=str(tpl.get("method") or "GET").upper(),
                    description=None if title is None else str(title),
                    prompt=None if title is None else str(title),
                    fields=tuple(_hal_field(rel, prop) for prop in tpl.get("properties") or ()),
                    is_required=tpl.get("required") is True,
                )
            )
        for rel, raw in raw_links.items():
            if rel in self._RESERVED or rel in raw_templates:
                continue
            href = _href(raw)
            if href is not None:
                result.append(Link(rel=str(rel), href=href, method="GET"))
        return tuple(result)

    def self_href(self, data: Any) -> str | None:
        """``_links.self.href``."""
        raw_links = _object(data, "HAL-FORMS response").get("_links")
        return _href(raw_links.get("self")) if isinstance(raw_links, Mapping) else None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """Top-level ``errors`` (as Loop's envelope), else ``_embedded.errors``."""
        body = _object(data, "HAL-FORMS response")
        raw = body.get("errors")
        if raw is None and isinstance(body.get("_embedded"), Mapping):
            raw = body["_embedded"].get("errors")
        return parse_error_entries(raw)

    def __repr__(self) -> str:
        return "HalFormsFormat()"


def _href(raw: Any) -> str | None:
    if isinstance(raw, list):  # a rel may hold several link objects: take the first
        raw = raw[0] if raw else None
    if isinstance(raw, Mapping) and isinstance(raw.get("href"), str):
        return str(raw["href"])
    return None


def _hal_field(rel: str, raw: Any) -> Field:
    prop = _object(raw, f"HAL-FORMS property of {rel!r}")
    name = prop.get("name")
    if not isinstance(name, str) or not name:
        raise DecodeError(f"HAL-FORMS template {rel!r}: a property has no name")
    raw_type = prop.get("type")
    type_name = _HAL_TYPES.get(raw_type, raw_type) if isinstance(raw_type, str) else None
    allowed: tuple[Any, ...] | None = None
    options = prop.get("options")
    if isinstance(options, Mapping) and isinstance(options.get("inline"), list):
        allowed = tuple(_option_value(option) for option in options["inline"])
        if type_name is None:
            type_name = "enum"
    prompt = prop.get("prompt")
    return Field(
        name=name,
        type=None if type_name is None else FieldType(type_name),
        description=None if prompt is None else str(prompt),
        allowed_values=allowed,
        is_required=prop.get("required") is True,
    )


def _option_value(option: Any) -> Any:
    # Inline options are plain values or {"prompt": ..., "value": ...} pairs.
    if isinstance(option, Mapping) and "value" in option:
        return option["value"]
    return option
