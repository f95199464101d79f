"""The same Navigator drives other link formats and other state machines, unchanged.

1. A HAL-FORMS draft-return flow (as Loop's ``2026-10`` serves it), through the raw Navigator
   with :class:`HalFormsFormat` and through ``loop.draft_returns`` with ``api_version="2026-10"``.
2. A door (closed -> open -> closed -> locked) in Loop's ``links[]`` format, whose rels and
   fields have nothing to do with returns.

One generic policy, which only reads field metadata, drives all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from loop_async import LoopClient
from loop_async.hypermedia import HalFormsFormat, Link, Navigator, NegotiatedFormat, TransitionRecorder
from loop_async.models import DraftReturnResponse, DraftReturnState
from tests.hypermedia._apps import DoorApp, new_door, serve

HAL_ROOT = "/api/2026-10"
HAL_TYPE = "application/prs.hal-forms+json"


def first_allowed(nav: Navigator[Any], link: Link) -> dict[str, Any]:
    """A policy that knows no API: the first allowed value of every required field."""
    return {f.name: f.allowed_values[0] for f in link.fields if f.is_required and f.allowed_values}


class HalDraftApp:
    """Draft returns served as HAL-FORMS: created -> returning-items-finalized -> submitted."""

    def __init__(self) -> None:
        self.drafts: dict[int, dict[str, Any]] = {}
        self.posts: list[tuple[str, Any]] = []
        self.app = web.Application()
        r = self.app.router
        r.add_post(f"{HAL_ROOT}/draft-returns", self.create)
        r.add_get(f"{HAL_ROOT}/draft-returns/{{id}}", self.read)
        r.add_post(f"{HAL_ROOT}/draft-returns/{{id}}/returning-items", self.add_item)
        r.add_post(f"{HAL_ROOT}/draft-returns/{{id}}/returning-items/{{item}}/return-reason", self.reason)
        r.add_post(f"{HAL_ROOT}/draft-returns/{{id}}/{{action}}", self.action)

    def render(self, request: web.Request, draft_id: int) -> web.Response:
        draft = self.drafts[draft_id]
        base = request.url.origin().with_path(f"{HAL_ROOT}/draft-returns/{draft_id}")
        items = draft["returning_items"]
        templates: dict[str, Any] = {}
        if draft["state"] == "created":
            added = {i["order_line_item_id"] for i in items}
            templates["add-returning-item"] = {
                "title": "Add an item",
                "method": "POST",
                "contentType": "application/json",
                "target": str(base / "returning-items"),
                "required": not items,
                "properties": [
                    {
                        "name": "order_line_item_id",
                        "type": "int",
                        "required": True,
                        "options": {"inline": [v for v in (74, 75) if v not in added]},
                    }
                ],
            }
            for item in items:
                if item["reason"] is None:
                    templates[f"set-returning-item-return-reason-{item['id']}"] = {
                        "method": "POST",
                        "target": str(base / "returning-items" / str(item["id"]) / "return-reason"),
                        "required": True,
                        "properties": [
                            {
                                "name": "return_reason_id",
                                "type": "int",
                                "required": True,
                                "options": {"inline": [{"prompt": "Too small", "value": 1}, {"value": 2}]},
                            },
                            {"name": "comment", "type": "textarea"},
                        ],
                    }
            if items and all(i["reason"] for i in items):
                templates["finalize-items"] = {
                    "method": "POST",
                    "target": str(base / "finalize-items"),
                    "required": True,
                }
        elif draft["state"] == "returning-items-finalized":
            if draft["credit_type"] is None:
                templates["set-credit-type"] = {
                    "method": "POST",
                    "target": str(base / "credit-type"),
                    "required": True,
                    "properties": [
                        {"name": "credit_type", "required": True, "options": {"inline": ["refund", "gift"]}}
                    ],
                }
            else:
                templates["submit-draft-return"] = {"method": "POST", "target": str(base / "submit"), "required": True}
        body = {
            "draft_return": dict(draft),
            "_links": {"self": {"href": str(base)}},
            "_templates": templates,
        }
        return web.json_response(body, content_type=HAL_TYPE)

    async def create(self, request: web.Request) -> web.Response:
        draft_id = 500 + len(self.drafts)
        self.drafts[draft_id] = {"id": draft_id, "state": "created", "returning_items": [], "credit_type": None}
        return self.render(request, draft_id)

    async def read(self, request: web.Request) -> web.Response:
        return self.render(request, int(request.match_info["id"]))

    async def add_item(self, request: web.Request) -> web.Response:
        draft_id, body = int(request.match_info["id"]), await request.json()
        self.posts.append(("add", body))
        items = self.drafts[draft_id]["returning_items"]
        items.append({"id": len(items) + 1, "order_line_item_id": body["order_line_item_id"], "reason": None})
        return self.render(request, draft_id)

    async def reason(self, request: web.Request) -> web.Response:
        draft_id, body = int(request.match_info["id"]), await request.json()
        self.posts.append(("reason", body))
        for item in self.drafts[draft_id]["returning_items"]:
            if item["id"] == int(request.match_info["item"]):
                item["reason"] = {"id": body["return_reason_id"], "comment": body.get("comment")}
        return self.render(request, draft_id)

    async def action(self, request: web.Request) -> web.Response:
        draft_id, action = int(request.match_info["id"]), request.match_info["action"]
        body = await request.json() if request.can_read_body else None
        self.posts.append((action, body))
        draft = self.drafts[draft_id]
        if action == "finalize-items":
            draft["state"] = "returning-items-finalized"
        elif action == "credit-type":
            draft["credit_type"] = body["credit_type"]
        elif action == "submit":
            draft.update(state="submitted", return_id=9000 + draft_id)
        return self.render(request, draft_id)


async def test_hal_forms_flow_driven_by_the_raw_navigator() -> None:
    app = HalDraftApp()
    async with serve(app.app, root=HAL_ROOT) as (_, transport):
        response = await transport.request("POST", transport.url("draft-returns"), json={})
        nav: Navigator[dict[str, Any]] = Navigator(
            transport, response, format=HalFormsFormat(), decode=lambda data: data["draft_return"], key=500
        )
        assert nav.self_url is not None and nav.self_url.path == f"{HAL_ROOT}/draft-returns/500"
        nav = await nav.follow("add-returning-item", order_line_item_id=75)
        assert nav.links.family("set-returning-item-return-reason").keys() == {"1"}
        assert nav.link("add-returning-item").fields[0].allowed_values == (74,)
        nav = await nav.follow_member("set-returning-item-return-reason", 1, return_reason_id=2, comment="tight")
        assert nav.resource["returning_items"][0]["reason"] == {"id": 2, "comment": "tight"}
        result = await nav.drive(first_allowed)
        assert result.outcome == "terminal"
        assert [s.rel for s in result.steps] == ["finalize-items", "set-credit-type", "submit-draft-return"]
        assert result.navigator.resource["state"] == "submitted"
        assert app.posts[-2] == ("credit-type", {"credit_type": "refund"})
        # refresh uses the HAL self link
        again = await result.navigator.refresh()
        assert again.is_terminal and again.resource["return_id"] == 9500


async def test_hal_forms_flow_through_loop_draft_returns_2026_10() -> None:
    app = HalDraftApp()
    async with (
        serve(app.app) as (server, _),
        LoopClient("k", base_url=server.make_url("/"), api_version="2026-10", rate_limit=None) as loop,
    ):
        assert isinstance(loop.draft_returns.format, NegotiatedFormat)  # the answer decides: HAL-FORMS here
        recorder = TransitionRecorder(lambda nav: nav.resource.draft_return.state.value)
        loop.draft_returns.observe(recorder)
        nav = await loop.draft_returns.create("#1001", "60622")
        assert isinstance(nav.resource, DraftReturnResponse)
        assert [link.rel for link in nav.resource.links] == ["add-returning-item"]
        nav = await loop.draft_returns.add_returning_item(nav.resource.draft_return.id, 74)
        result = await nav.drive(first_allowed)
        assert result.navigator.resource.draft_return.state == DraftReturnState.SUBMITTED
        assert result.navigator.resource.draft_return.return_id == 9500
        assert ("created", "add-returning-item", "created") in recorder.transitions
        assert "--> [*]" in recorder.to_mermaid()


async def test_an_unrelated_state_machine_is_driven_by_the_same_policy() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        door = await new_door(transport)
        plan = await door.drive(first_allowed, dry_run=True)
        assert [s.rel for s in plan.steps] == ["open"]

        def policy(nav: Navigator[Any], link: Link) -> dict[str, Any]:
            return {**first_allowed(nav, link), **({"code": "4321"} if link.rel == "lock" else {})}

        result = await door.drive(policy)
        assert result.outcome == "terminal"
        assert result.navigator.resource.state == "locked"
        assert app.effects[("lock", 1)] == 1


# Stems of the rels of Loop's draft-return flow: the generic layer names none of them.
LOOP_REL_STEMS = (
    "returning-item",
    "draft-return",
    "credit-type",
    "return-method",
    "finalize-items",
    "cart-item",
    "processing-type",
    "return-policy",
    "exchange-item",
    "user-input",
)


def test_the_hypermedia_package_names_no_rel_or_state_of_loops_flow() -> None:
    package = Path(__file__).resolve().parents[2] / "loop_async" / "hypermedia"
    states = {state.value for state in DraftReturnState} - {DraftReturnState.CREATED.value}  # "created" is a word
    for path in sorted(package.rglob("*.py")):
        source = path.read_text().lower().replace("docs/draft-returns.md", "")  # the guide it points to
        named = [word for word in (*LOOP_REL_STEMS, *states) if word in source]
        assert not named, f"{path.relative_to(package.parent)} names Loop's flow: {named}"
