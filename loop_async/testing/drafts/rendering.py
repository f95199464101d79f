"""A draft-return answer in either link format: Loop's ``links[]`` or HAL-FORMS.

Both come from the one envelope (:mod:`.body`) and the one link table (:mod:`.link_table`).
HAL-FORMS comes in Loop's shape (each href in ``_links[rel]``) or, with ``targets=True``, the
spec's (each href in its template's ``target``). The formats are described in
``docs/testing.md`` ("Link formats").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from yarl import URL

from loop_async.testing.drafts.link_table import OfferedField, OfferedLink, offered_links
from loop_async.testing.drafts.machine import DraftMachine
from loop_async.testing.drafts.objects import context_json, draft_return_json, totals_json
from loop_async.testing.drafts.states import FINALIZED, processing_types
from loop_async.testing.store import FakeDraft

__all__ = [
    "CLIENT_APPLICATION",
    "hal_property",
    "hal_template",
    "links_entry",
    "render_hal_forms",
    "render_links",
    "render_list",
    "render_totals",
]

#: The envelope's ``client_application`` (documented to exist; its shape is a guess).
CLIENT_APPLICATION: dict[str, Any] = {"id": "public-api", "name": "Loop Public API"}
ErrorEntries = Sequence[dict[str, Any]]


def links_entry(link: OfferedLink) -> dict[str, Any]:
    """One ``links[]`` entry with the keys Loop documents (no HAL-FORMS constraint)."""
    return {
        "rel": link.rel,
        "href": link.href,
        "method": link.method,
        "description": link.description,
        "prompt": link.prompt,
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "description": f.description,
                "allowed_values": None if f.allowed_values is None else list(f.allowed_values),
                "is_required": f.is_required,
            }
            for f in link.fields
        ],
        "is_required": link.is_required,
    }


def hal_property(field: OfferedField) -> dict[str, Any]:
    """One field as a HAL-FORMS property: an HTML input type or ``options``, a ``prompt``, constraints.

    ``allowed_values`` become ``options.inline`` (``maxItems: 1`` unless the field is
    ``multiple``); an ``int`` is a ``number`` with ``step: 1``, a ``string`` ``text`` (``email``
    for an email), a ``bool`` a ``checkbox``.
    """
    prop: dict[str, Any] = {"name": field.name, "required": field.is_required}
    if field.allowed_values is not None:
        options: dict[str, Any] = {"inline": list(field.allowed_values)}
        if not field.multiple:
            options["maxItems"] = 1
        if field.hal.get("min_items") is not None:
            options["minItems"] = field.hal["min_items"]
        prop["options"] = options
    elif field.type == "int":
        prop.update(type="number", step=1)
    elif field.type == "bool":
        prop["type"] = "checkbox"
    else:
        prop["type"] = "email" if field.name == "email" else "text"
    if field.description is not None:
        prop["prompt"] = field.description
    constraints = {
        "regex": field.hal.get("regex"),
        "minLength": field.hal.get("min_length"),
        "maxLength": field.hal.get("max_length"),
        "value": field.hal.get("value"),
    }
    prop.update({key: value for key, value in constraints.items() if value is not None})
    if field.hal.get("read_only"):
        prop["readOnly"] = True
    return prop


def hal_template(link: OfferedLink, *, target: bool = False) -> dict[str, Any]:
    """One link as a HAL-FORMS template (``description`` → ``title``; its href in ``target`` only when asked).

    HAL-FORMS has no "required action" flag: a required link gets ``"required": true``, the
    extension the SDK's HAL-FORMS format reads (Loop's wire key is not documented).
    """
    template: dict[str, Any] = {"method": link.method, "contentType": "application/json"}
    if target:
        template["target"] = link.href
    if link.description is not None:
        template["title"] = link.description
    template["properties"] = [hal_property(field) for field in link.fields]
    if link.is_required:
        template["required"] = True
    return template


def _self(api_root: URL, draft: FakeDraft) -> dict[str, str]:
    return {"href": str(api_root / "draft-returns" / str(draft.id))}


def render_links(machine: DraftMachine, draft: FakeDraft, api_root: URL, errors: ErrorEntries = ()) -> Any:
    """The envelope ``{draft_return, context, links, errors}`` with Loop's ``links[]``."""
    return {
        "draft_return": draft_return_json(machine.store, draft),
        "context": context_json(draft, machine.volatile_epoch),
        "links": [links_entry(link) for link in offered_links(draft, api_root, "links")],
        "errors": list(errors),
    }


def render_hal_forms(
    machine: DraftMachine, draft: FakeDraft, api_root: URL, errors: ErrorEntries = (), *, targets: bool = False
) -> Any:
    """The same envelope in HAL-FORMS: ``_links``, ``_templates``, ``_embedded``, ``client_application``.

    ``_embedded.processing_type_options`` lists the processing types on offer once the items
    are finalized. A terminal state has no templates and no action links.
    """
    links = offered_links(draft, api_root, "hal")
    hal_links: dict[str, Any] = {"self": _self(api_root, draft)}
    if not targets:
        hal_links.update({link.rel: {"href": link.href} for link in links})
    result: dict[str, Any] = {
        "draft_return": draft_return_json(machine.store, draft),
        "context": context_json(draft, machine.volatile_epoch),
        "_links": hal_links,
        "_templates": {link.rel: hal_template(link, target=targets) for link in links},
    }
    if draft.state == FINALIZED:
        options = [{"type": kind, "name": kind.title()} for kind in processing_types(draft)]
        result["_embedded"] = {"processing_type_options": options}
    result["client_application"] = CLIENT_APPLICATION
    result["errors"] = list(errors)
    return result


def render_list(machine: DraftMachine, api_root: URL) -> Any:
    """``GET /draft-returns``: every draft in ``_embedded.draft_returns``, each with its self link."""
    items = []
    for draft_id in sorted(machine.store.drafts):
        draft = machine.get(draft_id)
        items.append({**draft_return_json(machine.store, draft), "_links": {"self": _self(api_root, draft)}})
    return {
        "_links": {"self": {"href": str(api_root / "draft-returns")}},
        "_embedded": {"draft_returns": items},
        "client_application": CLIENT_APPLICATION,
    }


def render_totals(machine: DraftMachine, draft: FakeDraft) -> Any:
    """``GET .../totals``: the totals with money as ``{amount, currencyCode}`` (in an envelope: a guess)."""
    return {"totals": totals_json(machine.store, draft, currency_key="currencyCode")}
