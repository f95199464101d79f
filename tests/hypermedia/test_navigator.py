"""The navigator against a real loopback server: follow, validation, safety, reconciliation, locking, drive."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from loop_async import ReconcilePolicy
from loop_async.errors import (
    FieldValidationError,
    OutcomeUnknownError,
    PartialFailureError,
    RelNotAvailableError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.hypermedia import (
    Choose,
    DriveLimitError,
    Link,
    LinkFormat,
    LoopLinksFormat,
    Navigator,
    Stop,
    TransitionRecorder,
)
from loop_async.hypermedia._state import KeyState
from loop_async.hypermedia.linkset import LinkSet
from loop_async.models import ApiErrorEntry
from tests.hypermedia._apps import Door, DoorApp, decode_door, new_door, serve


async def test_follow_by_rel_walks_the_state_machine() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        assert nav.rels == ("open", "lock", "paint", "knock-1", "knock-2", "remove-sign")
        assert [link.rel for link in nav.required] == ["open"]
        assert nav.can("open") and not nav.can("close")
        assert nav.link("lock").fields[0].name == "code"
        assert isinstance(nav.links, LinkSet)
        opened = await nav.follow("open")
        assert opened.resource == Door(id=1, state="open", color="white", opened=1, knocks=0)
        assert opened.rels == ("close",)
        assert opened.response is not None and opened.response.status == 200
        assert opened.step == 1
        closed = await opened.follow("close")
        assert [link.rel for link in closed.required] == ["lock"]
        locked = await closed.follow("lock", code="1234", bolts=2)
        assert locked.is_terminal
        assert locked.rels == ()
        assert locked.resource.state == "locked"
        assert app.requests[-1] == ("POST", "/api/v1/doors/1/lock", {}, {"code": "1234", "bolts": 2})
        # the old navigators are untouched snapshots
        assert nav.resource.state == "closed"


async def test_missing_rel_lists_what_is_available_and_sends_nothing() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        with pytest.raises(RelNotAvailableError) as caught:
            await nav.follow("opne")
        assert caught.value.available == nav.rels
        assert "Did you mean 'open'?" in str(caught.value)
        assert app.requests == []


async def test_bad_values_report_every_problem_and_send_nothing() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        with pytest.raises(FieldValidationError) as caught:
            await nav.follow("paint", color="green", glossy=1, colour="red")
        assert caught.value.names == ("color", "glossy", "colour")
        assert "did you mean 'color'" in caught.value.problems[2].message
        with pytest.raises(FieldValidationError, match="is required"):
            await nav.follow("lock")
        assert app.requests == []


async def test_off_origin_href_is_refused_before_anything_is_sent() -> None:
    app = DoorApp(evil=True)
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        sent_before = transport.requests_sent
        with pytest.raises(UnsafeLinkError) as caught:
            await nav.follow("escape")
        assert "evil.example.test" in str(caught.value)
        assert "secret-test-key" not in str(caught.value)
        assert transport.requests_sent == sent_before
        assert app.requests == []


async def test_family_member_by_id_and_values_in_the_body() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        assert sorted(nav.links.family("knock")) == ["1", "2"]
        after = await nav.follow_member("knock", 2, times=3)
        assert after.resource.knocks == 6
        assert app.requests[-1] == ("POST", "/api/v1/doors/1/knock/2", {}, {"times": 3})
        with pytest.raises(RelNotAvailableError) as caught:
            await nav.follow_member("knock", 9, times=1)
        assert caught.value.available == ("knock-1", "knock-2")


async def test_delete_sends_values_as_query_and_an_empty_answer_is_re_read() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        after = await nav.follow("remove-sign", reason="old & faded")
        assert app.requests[0] == ("DELETE", "/api/v1/doors/1/sign", {"reason": "old & faded"}, None)
        assert app.requests[1][0] == "GET"  # 204 carried no state: re-read
        assert not after.can("remove-sign")
        assert after.step == 1


async def test_partial_failure_is_visible_and_strict_raises_with_the_new_state() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        painted = await nav.follow("paint", color="blue")
        assert painted.resource.color == "blue"
        assert [(e.code, e.message) for e in painted.errors] == [("paint-shortage", "only one coat applied")]
        assert "errors=1" in repr(painted)
        with pytest.raises(PartialFailureError) as caught:
            await painted.follow("paint", {"color": "blue", "glossy": True}, strict=True)
        state = caught.value.resource
        assert isinstance(state, Navigator)
        assert state.resource.color == "blue"
        assert caught.value.errors == state.errors
        assert (await painted.follow("paint", color="red", strict=True)).errors == ()


async def test_dropped_after_the_action_ran_is_reconciled_without_a_duplicate() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        app.drop_after["open"] = 1
        opened = await nav.follow("open")
        assert app.effects[("open", 1)] == 1
        assert opened.resource.state == "open"
        assert isinstance(opened.recovered_from, TransportError)
        assert [r[0] for r in app.requests] == ["POST", "GET"]  # the POST once, then the re-read


async def test_dropped_before_the_action_ran_is_unknown_and_not_sent_again() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = (await new_door(transport)).with_reconcile(ReconcilePolicy(reads=2, interval=0))
        app.drop_before["knock"] = 1
        with pytest.raises(OutcomeUnknownError) as caught:
            await nav.follow("knock-1", times=1)
        assert app.effects[("knock", 1)] == 0
        assert isinstance(caught.value.error, TransportError)
        assert isinstance(caught.value.navigator, Navigator)  # the fresh state, for the caller to decide
        assert caught.value.navigator.resource.knocks == 0
        assert [r[0] for r in app.requests] == ["POST", "GET", "GET"]


async def test_resend_if_unchanged_is_an_explicit_opt_in() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        policy = ReconcilePolicy(reads=1, interval=0, resend_if_unchanged=True)
        nav = (await new_door(transport)).with_reconcile(policy)
        app.drop_before["knock"] = 1
        after = await nav.follow("knock-1", times=1)
        assert app.effects[("knock", 1)] == 1
        assert after.resource.knocks == 1
        assert after.recovered_from is not None
        assert [r[0] for r in app.requests] == ["POST", "GET", "POST"]


async def test_without_a_self_url_a_lost_post_is_not_retried() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        response = await transport.request("POST", transport.url("doors"), json={})
        nav = Navigator(transport, response, format=LoopLinksFormat(), decode=decode_door)
        app.drop_before["open"] = 1
        with pytest.raises(OutcomeUnknownError) as caught:
            await nav.follow("open")
        assert caught.value.request_sent is True and caught.value.navigator is None
        assert isinstance(caught.value.error, TransportError)
        assert app.effects[("open", 1)] == 0
        assert len(app.requests) == 1
        with pytest.raises(LookupError):
            await nav.refresh()


async def test_follows_on_one_door_are_serialised() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        first = await new_door(transport)
        second = await first.refresh()  # another navigator over the same door
        # Each action waits (up to 0.3 s) for a second one in flight: only a missing lock allows it.
        app.hold_for, app.hold_timeout = 2, 0.3
        a, b = await asyncio.gather(first.follow("knock-1", times=1), second.follow("knock-2", times=1))
        assert app.max_inflight[1] == 1
        assert app.effects[("knock", 1)] == 2
        assert {a.resource.knocks, b.resource.knocks} == {1, 3}


async def test_different_doors_run_in_parallel() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        one, two = await new_door(transport), await new_door(transport)
        # Each action is held until both are in flight: this finishes only if they overlap.
        app.hold_for, app.hold_timeout = 2, 10.0
        await asyncio.gather(one.follow("open"), two.follow("open"))
        assert app.max_total_inflight == 2
        assert app.max_inflight[1] == app.max_inflight[2] == 1


async def test_drive_to_the_terminal_state_with_a_sync_policy() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        result = await nav.drive(lambda n, link: {"code": "0000"} if link.rel == "lock" else {})
        assert result.outcome == "terminal"
        assert [s.rel for s in result.steps] == ["open", "close", "lock"]
        assert result.steps[-1].values == {"code": "0000"}
        assert result.navigator.resource.state == "locked"


async def test_drive_with_an_async_policy_stop_and_choose() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        seen: list[str] = []

        async def policy(n: Navigator[Door], link: object) -> object:
            rel = getattr(link, "rel", "")
            seen.append(rel)
            if rel == "open" and n.resource.color == "white":
                return Choose("paint", {"color": "red"})
            if rel == "lock":
                return Stop("no code at hand")
            return {}

        result = await nav.drive(policy)  # type: ignore[arg-type]
        assert result.outcome == "stopped"
        assert result.reason == "no code at hand"
        assert [s.rel for s in result.steps] == ["paint", "open", "close"]
        assert seen == ["open", "open", "close", "lock"]
        assert result.navigator.resource.state == "closed"


async def test_drive_is_bounded_by_max_steps() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        with pytest.raises(DriveLimitError) as caught:
            await nav.drive(lambda n, link: Choose("knock-1", {"times": 1}), max_steps=3)
        assert len(caught.value.result.steps) == 3
        assert app.effects[("knock", 1)] == 3
        assert "max_steps=3" in str(caught.value)


async def test_dry_run_plans_and_sends_nothing() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        sent = transport.requests_sent
        plan = await nav.drive(lambda n, link: {}, dry_run=True)
        assert plan.outcome == "planned"
        assert [(s.rel, s.method) for s in plan.steps] == [("open", "POST")]
        assert plan.steps[0].href.endswith("/doors/1/open")
        assert plan.navigator is nav
        with pytest.raises(FieldValidationError):
            await nav.drive(lambda n, link: Choose("lock", {}), dry_run=True)
        assert transport.requests_sent == sent
        assert app.requests == []


async def test_recorder_draws_the_transitions_of_many_flows() -> None:
    app = DoorApp()
    recorder = TransitionRecorder(lambda nav: nav.resource.state)
    async with serve(app.app) as (_, transport):
        for _ in range(2):
            nav = (await new_door(transport)).with_observer(recorder)
            await nav.drive(lambda n, link: {"code": "1"} if link.rel == "lock" else {})
        nav = (await new_door(transport)).with_observer(recorder)
        await (await nav.follow("knock-1", times=1)).follow("knock-2", times=1)
    assert recorder.transitions[("closed", "open", "open")] == 2
    assert recorder.transitions[("closed", "knock-{id}", "closed")] == 2
    assert recorder.initial == {"closed"}
    assert recorder.terminal == {"locked"}
    assert recorder.to_mermaid() == (
        "stateDiagram-v2\n"
        '    state "closed" as s0\n'
        '    state "locked" as s1\n'
        '    state "open" as s2\n'
        "    [*] --> s0\n"
        "    s0 --> s0: knock-{id}\n"
        "    s0 --> s1: lock\n"
        "    s0 --> s2: open\n"
        "    s2 --> s0: close\n"
        "    s1 --> [*]\n"
    )
    assert "lock (2x)" in recorder.to_mermaid(counts=True)


# -- list values in a query: the link format decides ---------------------------------------


class PlainLinks:
    """A link format with no query preference: Loop's links[] without ``query``."""

    def __init__(self) -> None:
        self._inner = LoopLinksFormat()

    def links(self, data: Any) -> tuple[Link, ...]:
        return self._inner.links(data)

    def self_href(self, data: Any) -> str | None:
        return None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        return self._inner.errors(data)


def query_app() -> web.Application:
    async def thing(request: web.Request) -> web.Response:
        fields = [{"name": "ids", "type": "array"}, {"name": "all", "type": "bool"}]
        link = {"rel": "find", "href": "/api/v1/things/1/find", "method": "GET", "fields": fields}
        return web.json_response({"links": [link]})

    async def find(request: web.Request) -> web.Response:
        return web.json_response({"links": [], "query": [[k, v] for k, v in request.query.items()]})

    app = web.Application()
    app.router.add_get("/api/v1/things/1", thing)
    app.router.add_get("/api/v1/things/1/find", find)
    return app


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (PlainLinks(), [["ids", "7"], ["ids", "8"], ["all", "true"]]),
        (LoopLinksFormat(), [["ids", "7,8"], ["all", "true"]]),
    ],
)
async def test_a_list_goes_in_the_query_as_the_link_format_says(fmt: LinkFormat, expected: list[list[str]]) -> None:
    async with serve(query_app()) as (_, transport):
        start = await transport.request("GET", transport.url("things", 1))
        nav: Navigator[Any] = Navigator(transport, start, format=fmt, decode=lambda data: data)
        found = await nav.follow("find", ids=[7, 8], all=True)
    assert found.resource["query"] == expected


# -- immutability, observers, the recorder -----------------------------------------------------


async def test_a_reconciled_follow_leaves_the_snapshot_untouched() -> None:
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        nav = await new_door(transport)
        opened = await nav.follow("open")
        app.drop_after["close"] = 1
        closed = await opened.follow("close")
    assert isinstance(closed.recovered_from, TransportError)
    assert (closed.step, closed.resource.state) == (2, "closed")
    assert (opened.step, opened.recovered_from, opened.resource.state) == (1, None, "open")
    with pytest.raises(AttributeError):
        closed.recovered_from = None  # type: ignore[misc]


class Exploding:
    def transitioned(self, before: Navigator[Any], rel: str, after: Navigator[Any]) -> None:
        raise RuntimeError("observer bug")

    def __repr__(self) -> str:
        return "<Exploding observer>"


async def test_an_observer_error_is_logged_and_never_replaces_the_result(caplog: pytest.LogCaptureFixture) -> None:
    app = DoorApp()
    recorder = TransitionRecorder(lambda nav: nav.resource.state)
    async with serve(app.app) as (_, transport):
        nav = (await new_door(transport)).with_observer(Exploding()).with_observer(recorder)
        with caplog.at_level(logging.WARNING, logger="loop_async.hypermedia"):
            opened = await nav.follow("open")
    assert opened.resource.state == "open"
    assert app.effects[("open", 1)] == 1
    assert recorder.transitions[("closed", "open", "open")] == 1  # later observers still told
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "<Exploding observer>" in record.getMessage() and "'open'" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_with_observer_and_with_identity_do_not_decode_again() -> None:
    app = DoorApp()
    decoded: list[Any] = []

    def counting(data: Any) -> Door:
        decoded.append(data)
        return decode_door(data)

    async with serve(app.app) as (_, transport):
        response = await transport.request("POST", transport.url("doors"), json={})
        nav = Navigator(transport, response, format=LoopLinksFormat(), decode=counting)
        assert decoded == []  # the resource is decoded on first access only
        keyed = nav.with_identity(("door", 1), transport.url("doors", 1)).with_observer(Exploding())
        assert keyed.key == ("door", 1) and keyed.self_url == transport.url("doors", 1)
        assert keyed.resource is nav.resource and nav.key is None
        assert len(decoded) == 1  # once for the state and its copies


async def test_recorder_marks_only_a_created_state_as_a_start() -> None:
    app = DoorApp()
    recorder = TransitionRecorder(lambda nav: nav.resource.state)
    async with serve(app.app) as (_, transport):
        created = (await new_door(transport)).with_observer(recorder)
        opened = await created.follow("open")
        loaded = await opened.refresh()  # e.g. a get() mid-flow: not the start of anything
        await loaded.follow("close")
        plain = Navigator(transport, opened.data, format=LoopLinksFormat(), decode=decode_door, observers=[recorder])
        await plain.follow("close")
    assert recorder.initial == {"closed"}
    assert "[*] --> s" in recorder.to_mermaid() and recorder.to_mermaid().count("[*] -->") == 1


async def test_a_key_state_is_made_once_and_handed_from_state_to_state(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []  # counts only: holding a state would keep it alive
    init = KeyState.__init__

    def counting(self: KeyState[Any]) -> None:
        made.append(1)
        init(self)

    monkeypatch.setattr(KeyState, "__init__", counting)
    app = DoorApp()
    async with serve(app.app) as (_, transport):
        response = await transport.request("POST", transport.url("doors"), json={})
        door_id = response.data["door"]["id"]
        nav = await Navigator.load(
            transport, transport.url("doors", door_id), format=LoopLinksFormat(), decode=decode_door, key=door_id
        )
        nav = await nav.follow("open")
        nav = await (await nav.refresh()).follow("close")
        assert nav.resource.state == "closed"
    assert len(made) == 1
