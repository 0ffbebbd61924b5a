"""One sender's messages handled one at a time, in the order they arrived.

Slack wants its 200 within 3 s, so each message is answered in a background task. Tasks race
at every await (the store is read in a thread, Slack's API is called), so without an order a
sender's second message can reach Rasa, and their tracker, before the first.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Coroutine, Dict, Hashable, Optional


class InArrivalOrder:
    """Runs the work submitted for one key strictly after that key's earlier work; keys run side by side."""

    def __init__(self) -> None:
        self._last: Dict[Hashable, asyncio.Task] = {}

    def submit(self, key: Hashable, work: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Starts `work` once the key's previous work has ended (failed or cancelled counts as ended).

        The order is fixed here, at submission, not by which task the event loop resumes first.
        """
        task = asyncio.get_running_loop().create_task(after(self._last.get(key), work))
        self._last[key] = task  # also keeps the task referenced until it ends; each earlier one is held by its successor
        task.add_done_callback(partial(self._forget, key))
        return task

    def __len__(self) -> int:
        """Keys with work pending: it falls back to 0, so idle senders cost no memory."""
        return len(self._last)

    def _forget(self, key: Hashable, task: asyncio.Task) -> None:
        if self._last.get(key) is task:
            del self._last[key]


async def after(previous: Optional[asyncio.Task], work: Coroutine[Any, Any, Any]) -> Any:
    try:
        if previous is not None:
            await asyncio.wait([previous])  # its failure is its own: this work still runs
    except asyncio.CancelledError:
        work.close()  # never started: close it, or Python warns that it was never awaited
        raise
    return await work
