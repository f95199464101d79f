"""Orders (scope Orders): ``loop.orders.return_eligibility``."""

from __future__ import annotations

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.models._convert import structure
from loop_async.models.support import ReturnEligibility

__all__ = ["OrdersResource"]


class OrdersResource:
    """``loop.orders``: what support tools ask about an order."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def return_eligibility(self, order_name: str) -> ReturnEligibility:
        """Which line items of ``order_name`` ("#1001") may be returned, per item.

        Advisory: Loop evaluates it from its order snapshot and creates no draft return, so a
        draft return created afterwards decides (it may disagree). Cheaper than a draft.
        """
        problems = Problems("orders.return_eligibility")
        problems.text("order_name", order_name)
        problems.raise_if_any()
        response = await self._transport.request(
            "POST",
            self._transport.url("orders", "return-eligibility"),
            json={"order_name": order_name},
            # A POST only by its shape: it reads and creates nothing, so repeating it is harmless.
            retry_unsafe=True,
        )
        return structure(response.data, ReturnEligibility, what="return eligibility")
