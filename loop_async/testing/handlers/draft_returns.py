"""Draft returns over HTTP: ``/draft-returns`` and every action under ``/draft-returns/{id}``.

Parses the request, applies the action with :class:`~loop_async.testing.drafts.DraftMachine`
and answers in the format the request's version and ``Accept`` call for (:mod:`..versions`).
Each action is counted in ``side_effects[(route template without the version, draft_id)]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from loop_async._sansio import json as _json
from loop_async.testing.drafts.machine import DraftMachine
from loop_async.testing.drafts.rendering import render_hal_forms, render_links, render_list, render_totals
from loop_async.testing.error_bodies import draft_error, json_response, validation_error
from loop_async.testing.handlers._request import Handler, Route, int_param, json_object, parse_object, route_key
from loop_async.testing.store import FakeDraft, FakeReturn
from loop_async.testing.versions import HAL_FORMS_CONTENT_TYPE, api_root, wants_hal_forms

__all__ = ["DraftReturns"]

Action = Callable[[FakeDraft, web.Request, bytes], Any]


class DraftReturns:
    """The draft-return handlers; ``on_submit`` is called with each return a submit creates."""

    def __init__(
        self,
        machine: DraftMachine,
        side_effects: Counter[tuple[str, int]],
        on_submit: Callable[[FakeReturn], None],
        hal_forms_targets: Callable[[], bool],
    ) -> None:
        self.machine = machine
        self.side_effects = side_effects
        self._on_submit = on_submit
        self._targets = hal_forms_targets

    def routes(self, *, read: str, write: str) -> list[Route]:
        """The routes: reads need ``read``, the rest ``write``."""
        routes: list[Route] = [
            ("POST", "/draft-returns", write, self._create),
            ("GET", "/draft-returns", read, self._list),
            ("GET", "/draft-returns/{draft_id}", read, self._get),
            ("GET", "/draft-returns/{draft_id}/totals", read, self._totals),
        ]
        actions: list[tuple[str, str, Action]] = [
            ("POST", "/returning-items", self._with_body(self.machine.add_returning_item)),
            ("DELETE", "/returning-items/{item_id}", self._remove_item),
            ("POST", "/returning-items/{item_id}/return-reason", self._reason),
            ("POST", "/returning-items/{item_id}/user-input/{user_input_id}", self._user_input),
            ("POST", "/returning-items/{item_id}/exchange-item", self._exchange),
            ("POST", "/customer", self._with_body(self.machine.set_customer)),
            ("POST", "/finalize-items", lambda draft, _r, _b: self.machine.finalize_items(draft)),
            ("POST", "/credit-type", self._with_body(self.machine.set_credit_type)),
            ("POST", "/return-method", self._with_body(self.machine.select_return_method)),
            ("POST", "/address", self._with_body(self.machine.set_address)),
            ("POST", "/cart-items", self._with_body(self.machine.add_cart_items)),
            ("POST", "/cart", self._with_body(self.machine.set_cart)),
            ("POST", "/accept-return-policy", self._accept_policy),
            ("POST", "/processing-type", self._with_body(self.machine.set_processing_type)),
            ("POST", "/submit", self._submit),
            ("POST", "/cancel", lambda draft, _r, _b: self.machine.cancel(draft)),
        ]
        for method, suffix, action in actions:
            routes.append((method, "/draft-returns/{draft_id}" + suffix, write, self._action(action)))
        return routes

    # -- answers -----------------------------------------------------------------------------

    def _render(self, request: web.Request, draft: FakeDraft, errors: Any = ()) -> web.Response:
        root = api_root(request)
        if wants_hal_forms(request):
            data = render_hal_forms(self.machine, draft, root, errors, targets=self._targets())
            return web.Response(body=_json.dumps(data), content_type=HAL_FORMS_CONTENT_TYPE)
        return json_response(render_links(self.machine, draft, root, errors))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        if not wants_hal_forms(request):
            raise draft_error(
                422, "unsupported-feature", f"Listing draft returns needs Accept: {HAL_FORMS_CONTENT_TYPE}."
            )
        data = render_list(self.machine, api_root(request))
        return web.Response(body=_json.dumps(data), content_type=HAL_FORMS_CONTENT_TYPE)

    async def _totals(self, request: web.Request) -> web.StreamResponse:
        draft = self.machine.get(int_param(request, "draft_id"))
        return json_response(render_totals(self.machine, draft))

    async def _create(self, request: web.Request) -> web.StreamResponse:
        draft = self.machine.create(await json_object(request, required=True))
        return self._render(request, draft)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return self._render(request, self.machine.get(int_param(request, "draft_id")))

    def _action(self, action: Action) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            raw = await request.read()  # the only await: the draft is looked up, checked and changed after it
            draft = self.machine.get(int_param(request, "draft_id"))
            errors = action(draft, request, raw)
            # Counted per draft and action, as the return actions are: the tests' "at most once" oracle.
            self.side_effects[(route_key(request).replace(f"/api/{api_root(request).name}", "", 1), draft.id)] += 1
            return self._render(request, draft, errors or ())

        return handler

    # -- actions -----------------------------------------------------------------------------

    @staticmethod
    def _with_body(apply: Callable[[FakeDraft, dict[str, Any]], Any]) -> Action:
        """An action that takes the draft and the required JSON object body."""
        return lambda draft, _request, raw: apply(draft, parse_object(raw, required=True))

    def _remove_item(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.machine.remove_returning_item(draft, int_param(request, "item_id"))

    def _reason(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = parse_object(raw, required=True)
        self.machine.set_return_reason(draft, int_param(request, "item_id"), body)

    def _user_input(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        try:
            body = _json.loads(raw) if raw.strip() else None
        except ValueError:
            raise validation_error({"value": ["The body is not valid JSON."]}, status=400) from None
        item_id, input_id = int_param(request, "item_id"), int_param(request, "user_input_id")
        self.machine.set_user_input(draft, item_id, input_id, body)

    def _exchange(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = parse_object(raw, required=True)
        self.machine.set_exchange_item(draft, int_param(request, "item_id"), body)

    def _accept_policy(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = parse_object(raw)
        if body.get("return_policy_id", 1) != 1:  # the read-only value the template offers
            raise validation_error({"return_policy_id": ["The return policy id is invalid."]})
        self.machine.accept_return_policy(draft)

    def _submit(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        ret = self.machine.submit(draft)
        self.side_effects[("submit", draft.id)] += 1
        self._on_submit(ret)
