"""A bounded worker pool for the event loop: CPU work runs in threads, and excess load is refused early.

`workers` threads do the encoding, scoring and thumbnailing; at most `max_pending` requests may wait for
them. One more is answered 503 at once instead of queueing without bound (memory, latency for everyone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cl2cm.serve.query import BadRequest

T = TypeVar("T")


class BoundedPool:
    """Run blocking calls off the event loop in a fixed thread pool, with a cap on waiting requests."""

    def __init__(self, workers: int, max_pending: int) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cl2cm-serve")
        self._pending = 0  # touched only from the event loop thread

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pending >= self.max_pending:
            raise BadRequest(f"busy: {self._pending} requests are waiting; retry shortly", 503)
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._pending -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
