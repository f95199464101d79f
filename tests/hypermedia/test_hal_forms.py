"""HAL-FORMS completeness (https://rwcbook.github.io/hal-forms/) against a real loopback server.

A small aiohttp app (no Loop in it) serves one widget whose templates use every property
constraint of the spec. Each constraint is refused before anything is sent (the action's hit
count stays 0) and accepted when the value is valid; a form-urlencoded template is sent as a
form body; remote options (``options.link``) are read on demand through the origin check.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.errors import FieldValidationError, UnsafeLinkError
from loop_async.hypermedia import HalFormsFormat, Navigator, NegotiatedFormat
from tests.hypermedia._apps import ROOT, serve

HAL_TYPE = "application/prs.hal-forms+json"


class WidgetApp:
    """One widget in HAL-FORMS, Loop's shape (hrefs in ``_links``), every constraint in its templates."""

    def __init__(self, other_origin: str = "http://other.invalid") -> None:
        self.other_origin = other_origin
        self.hits: Counter[str] = Counter()
        self.bodies: list[tuple[str, str, bytes]] = []  # (action, content type, raw body)
        self.app = web.Application()
        self.app.router.add_get(f"{ROOT}/widgets/1", self.read)
        self.app.router.add_get(f"{ROOT}/stores", self.stores)
        self.app.router.add_post(f"{ROOT}/widgets/1/{{action}}", self.act)

    def doc(self, request: web.Request) -> dict[str, Any]:
        base = f"{request.url.origin()}{ROOT}/widgets/1"
        return {
            "widget": {"id": 1, "posts": len(self.bodies)},
            "_links": {
                "self": {"href": base},
                "edit": {"href": f"{base}/edit"},
                "search": {"href": f"{base}/search"},
                "evil": {"href": f"{base}/evil"},
            },
            "_templates": {
                "edit": {
                    "method": "POST",
                    "contentType": "application/json",
                    "properties": [
                        {"name": "code", "type": "text", "required": True, "regex": "[A-Z]{3}"},
                        {"name": "qty", "type": "number", "min": 1, "max": 9, "step": 2},
                        {"name": "note", "type": "textarea", "minLength": 2, "maxLength": 5},
                        {"name": "policy", "type": "hidden", "readOnly": True, "value": "p-1"},
                        {"name": "colour", "type": "made-up-type"},
                        {
                            "name": "tags",
                            "options": {
                                "inline": [{"label": "Red", "key": "r"}, {"label": "Blue", "key": "b"}, {"key": "g"}],
                                "promptField": "label",
                                "valueField": "key",
                                "minItems": 1,
                                "maxItems": 2,
                            },
                        },
                        {"name": "size", "options": {"inline": ["S", "M"], "maxItems": 1}},
                        {"name": "store", "options": {"link": {"href": f"{ROOT}/stores{{?q}}", "templated": True}}},
                    ],
                },
                "search": {
                    "method": "POST",
                    "contentType": "application/x-www-form-urlencoded",
                    "properties": [
                        {"name": "q", "type": "search", "required": True},
                        {"name": "exact", "type": "checkbox"},
                        {"name": "tags", "options": {"inline": ["a", "b", "c"]}},
                        {"name": "filter"},
                    ],
                },
                "evil": {
                    "method": "POST",
                    "properties": [{"name": "x", "options": {"link": {"href": f"{self.other_origin}/options"}}}],
                },
            },
        }

    async def read(self, request: web.Request) -> web.Response:
        return web.json_response(self.doc(request), content_type=HAL_TYPE)

    async def stores(self, request: web.Request) -> web.Response:
        self.hits["GET stores"] += 1
        return web.json_response([{"prompt": "Downtown", "value": "s1"}, {"prompt": "Airport", "value": "s2"}])

    async def act(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        self.hits[action] += 1
        self.bodies.append((action, request.headers.get("Content-Type", ""), await request.read()))
        return web.json_response(self.doc(request), content_type=HAL_TYPE)


@pytest_asyncio.fixture
async def widget() -> AsyncIterator[tuple[WidgetApp, Navigator[Any]]]:
    app = WidgetApp()
    async with serve(app.app) as (server, transport):
        nav = await Navigator.load(
            transport, server.make_url(f"{ROOT}/widgets/1"), format=NegotiatedFormat(), decode=lambda d: d["widget"]
        )
        yield app, nav


VALID: dict[str, Any] = {"code": "ABC", "qty": 3, "note": "hey", "tags": ["r", "b"], "size": "S", "store": "s2"}


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("code", "abc", "must match the pattern"),  # regex, the whole value
        ("code", "ABCD", "must match the pattern"),
        ("qty", 0, "at least 1"),  # min
        ("qty", 11, "at most 9"),  # max
        ("qty", 4, "steps of 2 from 1"),  # step counted from min
        ("qty", "3", "must be a number"),  # number type
        ("note", "x", "at least 2 characters"),  # minLength
        ("note", "toolong", "at most 5 characters"),  # maxLength
        ("policy", "p-2", "read-only"),  # readOnly: a changed value
        ("colour", 7, "must be a string"),  # an unknown type is text
        ("tags", [], "at least 1 values"),  # minItems
        ("tags", ["r", "b", "g"], "at most 2 values"),  # maxItems
        ("tags", ["Red"], "not allowed"),  # the valueField is the value, not the prompt
        ("tags", ["r", "r"], "more than once"),
        ("size", ["S"], "must be an enum"),  # maxItems 1: one value, not a list
        ("size", "L", "not allowed"),
        ("store", "s9", "not allowed"),  # remote options, fetched on demand
    ],
)
async def test_each_constraint_is_refused_before_sending(
    widget: tuple[WidgetApp, Navigator[Any]], name: str, value: Any, says: str
) -> None:
    app, nav = widget
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("edit", {**VALID, name: value})
    assert refused.value.names == (name,)
    assert says in str(refused.value)
    assert app.hits["edit"] == 0  # nothing was sent


async def test_valid_values_are_sent_with_the_defaults(widget: tuple[WidgetApp, Navigator[Any]]) -> None:
    app, nav = widget
    after = await nav.follow("edit", VALID)
    assert app.hits["edit"] == 1
    assert app.hits["GET stores"] == 1  # the remote options, read once for this follow
    [(action, content_type, raw)] = app.bodies
    assert (action, content_type) == ("edit", "application/json")
    assert json.loads(raw) == {**VALID, "policy": "p-1"}  # the read-only default sent though left out
    assert after.resource["posts"] == 1
    # A single value for a multi-select, the read-only value itself, a step on the grid: all fine.
    await nav.follow("edit", code="XYZ", qty=9, tags="g", policy="p-1")
    assert app.hits["edit"] == 2


async def test_every_problem_is_reported_at_once(widget: tuple[WidgetApp, Navigator[Any]]) -> None:
    app, nav = widget
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("edit", code="no", qty=2.5, note="", policy="x", tags=["q"], size="XL", store="s0", extra=1)
    assert set(refused.value.names) == {"code", "qty", "note", "policy", "tags", "size", "store", "extra"}
    assert app.hits["edit"] == 0
    with pytest.raises(FieldValidationError) as missing:
        await nav.follow("edit")
    assert missing.value.names == ("code",)


async def test_form_urlencoded_template_is_sent_as_a_form(widget: tuple[WidgetApp, Navigator[Any]]) -> None:
    app, nav = widget
    assert nav.link("search").content_type == "application/x-www-form-urlencoded"
    await nav.follow("search", q="red shoes", exact=True, tags=["a", "c"])
    [(action, content_type, raw)] = app.bodies
    assert action == "search"
    assert content_type.startswith("application/x-www-form-urlencoded")
    assert parse_qsl(raw.decode()) == [("q", "red shoes"), ("exact", "true"), ("tags", "a"), ("tags", "c")]
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("search", q="x", filter={"nested": 1})  # a form has no objects
    assert refused.value.names == ("filter",)
    assert app.hits["search"] == 1


async def test_remote_options_off_origin_are_never_fetched() -> None:
    other_hits: list[str] = []

    async def options(request: web.Request) -> web.Response:
        other_hits.append(request.headers.get("X-Authorization", ""))
        return web.json_response(["x1"])

    other = web.Application()
    other.router.add_get("/options", options)
    other_server = TestServer(other, host="127.0.0.1")
    await other_server.start_server()
    try:
        app = WidgetApp(other_origin=str(other_server.make_url("")).rstrip("/"))
        async with serve(app.app) as (server, transport):
            nav = await Navigator.load(
                transport, server.make_url(f"{ROOT}/widgets/1"), format=HalFormsFormat(), decode=lambda d: d["widget"]
            )
            with pytest.raises(UnsafeLinkError):
                await nav.follow("evil", x="x1")
    finally:
        await other_server.close()
    assert other_hits == []  # the API key never left for the other origin
    assert app.hits["evil"] == 0


async def test_transport_form_body_and_its_refusals() -> None:
    seen: list[tuple[str, bytes]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Content-Type", ""), await request.read()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(f"{ROOT}/echo", echo)
    async with serve(app) as (server, transport):
        url = server.make_url(f"{ROOT}/echo")
        await transport.request("POST", url, form=[("a", "1"), ("a", "2"), ("b", "x y")])
        await transport.request("POST", url, form={"c": "3"})
        with pytest.raises(FieldValidationError):
            await transport.request("POST", url, json={"a": 1}, form={"a": "1"})  # not both
    assert [(ct.split(";")[0], body) for ct, body in seen] == [
        ("application/x-www-form-urlencoded", b"a=1&a=2&b=x+y"),
        ("application/x-www-form-urlencoded", b"c=3"),
    ]


async def test_client_hal_forms_option_sets_accept_and_is_checked() -> None:
    seen: list[str] = []

    async def read(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept", ""))
        return web.json_response({"draft_return": {"id": 1, "state": "created"}, "links": []})

    app = web.Application()
    app.router.add_get("/api/2026-07/draft-returns/1", read)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        for hal_forms in (False, True):
            async with LoopClient(
                "k", base_url=server.make_url("/"), api_version="2026-07", rate_limit=None, hal_forms=hal_forms
            ) as loop:
                nav = await loop.draft_returns.get(1)
                assert nav.is_terminal
    finally:
        await server.close()
    assert seen[0] == "application/json"
    assert seen[1].split(",")[0] == "application/prs.hal-forms+json"
    with pytest.raises(FieldValidationError) as refused:
        LoopClient("k", hal_forms="yes")  # type: ignore[arg-type]
    assert refused.value.names == ("hal_forms",)
