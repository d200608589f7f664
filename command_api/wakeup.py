"""After a commit, a hint to the projector that new events are there (guarantee 6).

The hint may be lost: the projector's cron job catches up anyway. So a Redis outage is
logged and counted, never reported to the client whose events are already committed.
"""

import structlog
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from command_api.metrics import WAKEUP_FAILURES
from projector import CATCH_UP_JOB
from settings import Settings

log = structlog.get_logger()


def projector_queue(settings: Settings) -> ArqRedis:
    """The arq queue the projector works from: wake-ups and rebuilds are enqueued here.

    Built without connecting, so that the API starts while Redis is down; every call is
    bounded by `redis_timeout_seconds`.
    """
    pool = ConnectionPool.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
    )
    return ArqRedis(pool, default_queue_name=settings.projector_queue)


class ProjectorWakeup:
    def __init__(self, queue: ArqRedis) -> None:
        self._redis = queue

    async def wake(self) -> None:
        try:
            await self._redis.enqueue_job(CATCH_UP_JOB)
        except (RedisError, OSError) as error:
            WAKEUP_FAILURES.inc()
            log.warning("projector wake-up not sent", error=repr(error))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False
