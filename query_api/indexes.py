"""Creating the read documents' indexes without making MongoDB a condition of starting."""

import asyncio

import pymongo
import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from query_api.consistency import PROJECTION
from readmodel.collections import LIVE, ReadCollections, ensure_indexes
from readmodel.documents import find_status

log = structlog.get_logger()

# Building an index on a large collection outlasts the per-request timeout by far.
BUILD_SECONDS = 300.0
FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 30.0


async def ensure_indexes_eventually(db: AsyncDatabase[dict[str, object]]) -> None:
    """Retries with backoff until it succeeds: the API serves (or answers 503) meanwhile."""
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            with pymongo.timeout(BUILD_SECONDS):
                await ensure_indexes(db, await _live_collections(db))
        except PyMongoError as error:
            log.warning("indexes not created yet", error=repr(error)[:300], retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)
        else:
            log.info("indexes ready", database=db.name)
            return


async def _live_collections(db: AsyncDatabase[dict[str, object]]) -> ReadCollections:
    # After a rebuild the documents live elsewhere (see `projector.rebuild`); a rebuild makes
    # the new collections' indexes itself, before it writes to them.
    status = await find_status(db, PROJECTION)
    return LIVE if status is None else status.collections
