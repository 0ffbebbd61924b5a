"""One sender's background work runs in arrival order, whatever each piece waits on."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

from bot.ordering import InArrivalOrder


async def record(log: List[str], name: str, delay_s: float) -> str:
    await asyncio.sleep(delay_s)
    log.append(name)
    return name


def test_a_senders_later_message_waits_for_the_earlier_one_even_when_it_would_finish_first() -> None:
    async def scenario() -> List[str]:
        order, log = InArrivalOrder(), []
        tasks = [order.submit("U1", record(log, name, delay_s)) for name, delay_s in [("first", 0.05), ("second", 0.0)]]
        await asyncio.gather(*tasks)
        assert len(order) == 0, "an idle sender keeps nothing"
        return log

    assert asyncio.run(scenario()) == ["first", "second"]


def test_different_senders_are_not_held_up_by_each_other() -> None:
    async def scenario() -> List[str]:
        order, log = InArrivalOrder(), []
        slow = order.submit("U1", record(log, "slow", 0.05))
        fast = order.submit("U2", record(log, "fast", 0.0))
        await asyncio.gather(slow, fast)
        return log

    assert asyncio.run(scenario()) == ["fast", "slow"]


def test_a_failed_or_cancelled_message_does_not_block_the_next() -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("Rasa was unreachable")

    async def scenario() -> List[str]:
        order, log = InArrivalOrder(), []
        failed = order.submit("U1", fail())
        cancelled = order.submit("U1", record(log, "never", 10.0))
        last = order.submit("U1", record(log, "last", 0.0))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.wait([failed, cancelled, last])
        with pytest.raises(RuntimeError):
            failed.result()
        assert cancelled.cancelled()
        return log

    assert asyncio.run(scenario()) == ["last"]


def test_work_cancelled_before_it_starts_is_closed_not_left_unawaited() -> None:
    async def scenario() -> None:
        order = InArrivalOrder()
        blocker = order.submit("U1", asyncio.sleep(10))
        waiting_work = record([], "never", 0.0)
        waiting = order.submit("U1", waiting_work)
        await asyncio.sleep(0)
        waiting.cancel()
        blocker.cancel()
        await asyncio.wait([blocker, waiting])
        assert waiting_work.cr_frame is None, "closed"

    asyncio.run(scenario())
