"""A support tool builds a return for a customer, one step at a time, through the navigator.

Each answer of Loop's draft-returns API lists the actions possible *now* with their fields and
allowed values; the tool shows them, picks one (here: the first allowed value, where a support
agent would choose), and follows it. Nothing is hard-coded but the rels' names: the values
come from the draft's own links, and the SDK checks them before anything is sent.

    python examples/support_draft.py              # against the embedded fake server (also: --fake)

    # against Loop (a key with both Draft Returns scopes); it stops before submitting unless told:
    LOOP_API_KEY=... python examples/support_draft.py --order-name '#1001' --zip 60622 [--submit]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from loop_async import LoopClient, Navigator
from loop_async.models import DraftReturnResponse, Link


def show(nav: Navigator[DraftReturnResponse]) -> None:
    draft = nav.resource.draft_return
    print(f"draft {draft.id} is {draft.state.value}; offered: {', '.join(nav.rels) or 'nothing (terminal)'}")


def first_choice(link: Link, name: str) -> object:
    """The first allowed value of field ``name`` of ``link``: what the agent is offered to pick."""
    for field in link.fields:
        if field.name == name and field.allowed_values:
            return field.allowed_values[0]
    raise LookupError(f"{link.rel} offers no values for {name}")


async def build_return(
    loop: LoopClient, order_name: str, zip_code: str, *, submit: bool
) -> Navigator[DraftReturnResponse]:
    nav = await loop.draft_returns.create(order_name, zip_code)
    show(nav)

    # 1. Which items? The link's field lists the order's returnable line items.
    item = first_choice(nav.link("add-returning-item"), "order_line_item_id")
    nav = await nav.follow("add-returning-item", order_line_item_id=item)
    show(nav)

    # 2. Why? One rel per returning item: set-returning-item-return-reason-{id}.
    family = "set-returning-item-return-reason"
    for item_id, link in nav.links.family(family).items():
        reason = first_choice(link, "return_reason_id")
        nav = await nav.follow_member(family, item_id, return_reason_id=reason)
    nav = await nav.follow("finalize-items")
    show(nav)

    # 3. How is the customer paid back, and how does the parcel travel?
    credit_type = first_choice(nav.link("set-credit-type"), "credit_type")
    nav = await nav.follow("set-credit-type", credit_type=credit_type)
    method = first_choice(nav.link("select-return-method"), "return_method_id")
    nav = await nav.follow("select-return-method", return_method_id=method)
    show(nav)
    totals = nav.resource.draft_return.totals
    if totals is not None and totals.net is not None:
        print(f"the customer gets {totals.net.decimal} {totals.net.currency} ({credit_type})")

    # 4. Submit (the only step that creates the return), when the agent confirms.
    if not submit:
        print(f"ready to submit; draft {nav.resource.draft_return.id} is left for the agent to confirm")
        return nav
    nav = await nav.follow("submit-draft-return", strict=True)
    show(nav)
    print(f"return {nav.resource.draft_return.return_id} created")
    return nav


async def on_fake() -> None:
    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer() as server:
        order = server.orders[0]
        async with LoopClient(server.api_key, base_url=server.url) as loop:
            nav = await build_return(loop, order.name, order.zip, submit=True)
        assert nav.is_terminal


async def on_loop(args: argparse.Namespace) -> None:
    async with LoopClient() as loop:  # LOOP_API_KEY (and LOOP_BASE_URL, if set)
        await build_return(loop, args.order_name, args.zip, submit=args.submit)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a draft return step by step.")
    parser.add_argument("--fake", action="store_true", help="run against the embedded fake server (the default)")
    parser.add_argument("--order-name", help="the order, e.g. '#1001' (against Loop)")
    parser.add_argument("--zip", help="the order's zip or email, as Loop asks for it")
    parser.add_argument("--submit", action="store_true", help="submit the draft (creates the return)")
    args = parser.parse_args(argv)
    if args.fake or args.order_name is None:
        asyncio.run(on_fake())
    elif args.zip is None:
        parser.error("--zip is needed with --order-name")
    else:
        asyncio.run(on_loop(args))


if __name__ == "__main__":
    main(sys.argv[1:])
