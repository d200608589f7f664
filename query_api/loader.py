"""Documents by `_id`, many requests' lookups in one `find`.

A `find_one` costs the query API and the MongoDB server each a round trip's work, most of it
fixed: under load, most of a read's time. The ids asked for in one turn of the event loop go
to the server together (`{"_id": {"$in": [...]}}`), which costs little more than one of them.
Under load, requests come out of their shared checkpoint read (`CheckpointReader`) in the
same turn, so they fall into the same batch without waiting for one another; alone, a
request's batch is itself, one turn later.

Fresh as a `find_one`: a batch is sent after every lookup in it was asked for, so it reads the
documents as of after the request's checkpoint, never an answer read before it.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase

# Decoded lazily: a field on first use of the document, an embedded document (an order line)
# on first use of its own. A request whose body is already rendered (`query_api.renderings`)
# reads only the top-level fields: decoding whole users of many orders took a tenth of the
# query API's CPU per `GET /users/{id}` (bench, issue 6).
Document = Mapping[str, Any]
# The collection and the fields to return (none: the whole document).
_Target = tuple[str, tuple[tuple[str, int], ...] | None]
# Each id asked for, with the answers its askers wait on.
_Waiters = dict[str, list[asyncio.Future[Document | None]]]
# Documents of many orders are big: a batch stays a few replies' worth.
MAX_BATCH = 100
# A turn's lookups go in two batches once there are this many: the server reads the second
# while this process renders the first. In one, each side idled while the other worked (the
# query API at 88% of a core under `wrk`; in two, 99% and 6-10% more requests, bench, issue 6).
SPLIT_FROM = 16


class DocumentLoader:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._lazy = db.codec_options.with_options(document_class=RawBSONDocument)
        self._max_batch = max_batch
        self._asked: dict[_Target, _Waiters] = {}
        self._fetches: set[asyncio.Task[None]] = set()

    async def find(
        self, collection: str, key: str, projection: Mapping[str, int] | None = None
    ) -> Document | None:
        """The document whose `_id` is `key`, with only the `projection`'s fields (and `_id`)
        if given; None if there is none. Raises what the `find` raised. Askers of the same
        document share it: read it, do not change it."""
        loop = asyncio.get_running_loop()
        if not self._asked:
            loop.call_soon(self._send)
        fields = None if projection is None else tuple(sorted(projection.items()))
        answer: asyncio.Future[Document | None] = loop.create_future()
        self._asked.setdefault((collection, fields), {}).setdefault(key, []).append(answer)
        # A waiter that goes (a client hanging up) cancels only its own answer, not the batch.
        try:
            return await answer
        except Exception as error:
            # The one error of a whole batch: its traceback from here on is this asker's,
            # not theirs piled onto it.
            raise error.with_traceback(None) from error.__cause__

    def _send(self) -> None:
        asked, self._asked = self._asked, {}
        for target, waiters in asked.items():
            keys = list(waiters)
            size = batch_size(len(keys), self._max_batch)
            for start in range(0, len(keys), size):
                batch = {key: waiters[key] for key in keys[start : start + size]}
                fetch = asyncio.create_task(self._fetch(target, batch))
                # The loop keeps only a weak reference to a task.
                self._fetches.add(fetch)
                fetch.add_done_callback(self._fetches.discard)

    async def _fetch(self, target: _Target, waiters: _Waiters) -> None:
        collection, fields = target
        # With `_id` always: it is what the answers are matched by.
        projection = None if fields is None else {**dict(fields), "_id": 1}
        try:
            documents = self._db.get_collection(collection, codec_options=self._lazy)
            cursor = documents.find({"_id": {"$in": list(waiters)}}, projection)
            found = {document["_id"]: document async for document in cursor}
        except asyncio.CancelledError:
            _fail(waiters, None)
            raise
        except Exception as error:
            _fail(waiters, error)
            return
        for key, answers in waiters.items():
            for answer in answers:
                if not answer.done():
                    answer.set_result(found.get(key))


def batch_size(asked: int, max_batch: int) -> int:
    """Lookups per `find` when `asked` are sent together: all in one, or half each from
    SPLIT_FROM on; never more than `max_batch`."""
    whole_or_half = asked if asked < SPLIT_FROM else -(-asked // 2)
    return max(1, min(max_batch, whole_or_half))


def _fail(waiters: _Waiters, error: Exception | None) -> None:
    """Every answer still awaited gets the error, or is cancelled if there is none."""
    for answers in waiters.values():
        for answer in answers:
            if answer.done():
                continue
            if error is None:
                answer.cancel()
            else:
                answer.set_exception(error)
