"""Dynamic batching: concurrent single-tweet requests share one vectorised model call.

A single consumer task takes the first waiting request, then everything else already
queued (up to ``max_batch``), and predicts them together in a worker thread. Under light
load a request runs alone with no added wait; under heavy load the per-call overhead of
the models is paid once per batch instead of once per tweet. Requests are grouped by the
model snapshot they started with, so a reload never changes a request's models mid-flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from starlette.concurrency import run_in_threadpool

from serving.runtime import Prediction, RoutingModels

logger = logging.getLogger(__name__)
_Entry = tuple[RoutingModels, str, asyncio.Future]


class MicroBatcher:
    """Coalesces concurrent ``predict`` calls; start it in the app's lifespan."""

    def __init__(self, max_batch: int = 64):
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Entry] | None = None
        self._task: asyncio.Task | None = None
        self.batches = 0  # how many model calls were made (for tests and metrics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="kemala-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def predict(self, models: RoutingModels, text: str) -> Prediction:
        """Predict one text, batched with whatever else is waiting."""
        if not self.running:  # e.g. an app driven without its lifespan: predict directly
            return await run_in_threadpool(models.predict, [text])
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((models, text, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            groups: dict[int, list[_Entry]] = defaultdict(list)
            for entry in batch:
                groups[id(entry[0])].append(entry)
            for entries in groups.values():
                await self._predict_group(entries)

    async def _predict_group(self, entries: list[_Entry]) -> None:
        models = entries[0][0]
        try:
            pred = await run_in_threadpool(models.predict, [e[1] for e in entries])
        except Exception as exc:
            logger.exception("batched prediction failed")
            for _, _, future in entries:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        for i, (_, _, future) in enumerate(entries):
            if not future.done():  # the client may have gone away
                future.set_result(pred.row(i))
