"""Return actions: exact method, path, query and body; argument checks; special answers."""

from __future__ import annotations

import json

import pytest

from loop_async import (
    ActionResult,
    FieldValidationError,
    LoopClient,
    OutcomeKind,
    PartialOutcomeError,
    UnprocessableEntityError,
)
from loop_async._sansio.outcome import classify
from loop_async.models import DeepLink, DeepLinkQR
from tests.scripted import ScriptedServer

R = "/api/v1/warehouse/return/55"


async def test_process_sends_details_as_json(client: LoopClient, scripted: ScriptedServer) -> None:
    result = await client.returns.process(55, {"tag": "wms"})
    req = scripted.requests[0]
    assert (req.method, req.path, json.loads(req.body)) == ("POST", f"{R}/process", {"tag": "wms"})
    assert result.queued and result.return_id == 55 and result.action == "process"


async def test_process_without_details_sends_no_body(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.process(55)
    assert scripted.requests[0].body == b""


async def test_cancel_sends_reason_only_when_given(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.cancel(55)
    await client.returns.cancel(55, reason="customer asked\r\nX-Injected: 1")
    first, second = scripted.requests
    assert (first.path, first.query) == (f"{R}/cancel", {})
    assert second.query == {"reason": "customer asked\r\nX-Injected: 1"}  # encoded in the query, not a header
    assert "X-Injected" not in second.headers


async def test_close(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.close(55)
    assert (scripted.requests[0].method, scripted.requests[0].path) == ("POST", f"{R}/close")


async def test_remove_line_items_comma_separated(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.remove_line_items(55, [3, 4, 3])
    req = scripted.requests[0]
    assert (req.path, req.query) == (f"{R}/remove", {"line_item_id": "3,4"})


async def test_flag_sends_no_parameters_and_records_reason_as_note(
    client: LoopClient, scripted: ScriptedServer
) -> None:
    await client.returns.flag(55, reason="damaged box")
    flag, note = scripted.requests
    assert (flag.path, flag.query, flag.body) == (f"{R}/flag", {}, b"")
    assert (note.path, json.loads(note.body)) == (f"{R}/note", {"content": "damaged box"})


async def test_flag_note_failure_says_the_flag_happened(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/warehouse/return/55/note", {"message": "nope"}, status=422)
    with pytest.raises(PartialOutcomeError) as info:
        await client.returns.flag(55, reason="why")
    assert isinstance(info.value.done, ActionResult) and info.value.done.action == "flag"
    assert isinstance(info.value.error, UnprocessableEntityError)
    assert "WAS flagged" in str(info.value)
    assert classify(info.value) is OutcomeKind.PARTIAL


async def test_list_notes_decodes_and_422_means_none(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(
        "/warehouse/return/55/notes", {"notes": [{"id": 1, "content": "a", "created_at": "2026-01-02 03:04:05"}]}
    )
    scripted.answer(
        "/warehouse/return/55/notes", {"errors": {"message": "No notes", "code": "UNPROCESSABLE_RETURN"}}, status=422
    )
    notes = await client.returns.list_notes(55)
    assert [(n.id, n.content) for n in notes] == [(1, "a")]
    assert await client.returns.list_notes(55) == []
    assert scripted.requests[0].method == "GET"


async def test_create_note_sends_content(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.create_note(55, "x" * 255)
    assert json.loads(scripted.requests[0].body) == {"content": "x" * 255}


async def test_deep_links(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/order/link", {"url": "https://shop.loop/a"})
    scripted.answer("/order/qr", {"qr": "https://qr/img.png", "deeplink_url": "https://shop.loop/a"})
    link = await client.returns.deep_link(order_name="#1001", zip="60622")
    qr = await client.returns.deep_link_qr(order_name="#1001", zip="60622", gift=True, image_type="svg", size=300)
    assert link == DeepLink(url="https://shop.loop/a")
    assert qr == DeepLinkQR(qr="https://qr/img.png", deeplink_url="https://shop.loop/a")
    first, second = scripted.requests
    assert (first.path, json.loads(first.body)) == (
        "/api/v1/order/link",
        {"name": "#1001", "zip": "60622", "gift": False},
    )
    assert json.loads(second.body) == {"name": "#1001", "zip": "60622", "gift": True, "type": "svg", "size": 300}


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda r: r.process(0), ["return_id"]),
        (lambda r: r.process(True), ["return_id"]),
        (lambda r: r.close("12"), ["return_id"]),
        (lambda r: r.create_note(1, ""), ["text"]),
        (lambda r: r.create_note(1, "x" * 256), ["text"]),
        (lambda r: r.create_note(-1, "   "), ["return_id", "text"]),
        (lambda r: r.remove_line_items(1, []), ["line_item_ids"]),
        (lambda r: r.remove_line_items(1, [5, -2, 0]), ["line_item_ids[1]", "line_item_ids[2]"]),
        (lambda r: r.flag(1, reason="x" * 300), ["reason"]),
        (lambda r: r.deep_link(order_name="", zip=""), ["order_name", "zip"]),
        (lambda r: r.deep_link_qr(order_name="#1", zip="1", image_type="gif", size=0), ["image_type", "size"]),
    ],
)
async def test_bad_arguments_are_rejected_before_sending(
    client: LoopClient, scripted: ScriptedServer, call: object, names: list[str]
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await call(client.returns)  # type: ignore[operator]
    assert list(info.value.names) == names
    assert scripted.requests == []
