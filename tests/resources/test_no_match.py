"""Loop's "no match" answers (HTTP 200, an error body without a code) raise NotFoundError (issue 12, point 14)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from loop_async import LoopAPIError, LoopClient, NotFoundError
from loop_async._sansio.protocol import build_api_error, parse_error_body
from tests.scripted import ScriptedServer

NO_RETURN = {"errors": {"message": "No return found with this ID."}}

ACTIONS: dict[str, tuple[str, Callable[[LoopClient], Awaitable[object]]]] = {
    "process": ("/warehouse/return/7/process", lambda loop: loop.returns.process(7)),
    "cancel": ("/warehouse/return/7/cancel", lambda loop: loop.returns.cancel(7)),
    "close": ("/warehouse/return/7/close", lambda loop: loop.returns.close(7)),
    "remove": ("/warehouse/return/7/remove", lambda loop: loop.returns.remove_line_items(7, [11])),
    "create_note": ("/warehouse/return/7/note", lambda loop: loop.returns.create_note(7, "hello")),
    "list_notes": ("/warehouse/return/7/notes", lambda loop: loop.returns.list_notes(7)),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_a_return_action_on_an_unknown_id_raises_not_found(
    action: str, client: LoopClient, scripted: ScriptedServer
) -> None:
    path, call = ACTIONS[action]
    scripted.answer(path, NO_RETURN, status=200)
    with pytest.raises(NotFoundError) as caught:
        await call(client)
    error = caught.value
    assert error.status == 200  # the HTTP status as sent; the class says what it means
    assert error.message == "No return found with this ID."
    assert error.response is not None and error.response.data == NO_RETURN
    assert scripted.paths() == ["/api/v1" + path]  # asked once: a "no match" is not retried


@pytest.mark.parametrize(
    "body",
    [
        NO_RETURN,
        {"error": {"message": "Return not found."}},
        {"message": "No orders were found for this customer"},
        {"errors": [{"message": "Draft return not found"}]},
    ],
)
def test_no_match_wordings_map_to_not_found(body: object) -> None:
    error = build_api_error(200, parse_error_body(body), fallback_message="")
    assert type(error) is NotFoundError


@pytest.mark.parametrize(
    "body",
    [
        {"errors": {"message": "Return 7 is closed and cannot be changed."}},
        {"message": "Nothing to do"},
        {"message": "Found 2 problems. Not processed."},
    ],
)
def test_other_errors_in_a_200_stay_plain(body: object) -> None:
    error = build_api_error(200, parse_error_body(body), fallback_message="")
    assert type(error) is LoopAPIError
