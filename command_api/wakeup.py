"""After a commit, a hint to the projector that new events are there (guarantee 6).

The hint may be lost: the projector's cron job catches up anyway. So a Redis outage is
logged and counted, never reported to the client whose events are already committed.
"""

import asyncio

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
    """Sends wake-ups one at a time, off the request path, at most one per `spacing` seconds.

    A commit asks for a wake-up and returns at once; a single sender task sends them. The
    commits made while a wake-up is on its way, or within `spacing` after it, share the next
    one, which is sent after them and still finds their events. No command waits on Redis.

    The spacing is the projector's poll interval: wake-ups sent closer together reach it
    together, and each still costs it a job (and this process an enqueue, about half the CPU
    of the command itself). At 300 commits a second, a wake-up per commit or two kept
    the machine's cores busy enough to delay the projection (issue 6's freshness figures).
    """

    def __init__(self, queue: ArqRedis, spacing: float = 0.0) -> None:
        self._redis = queue
        self._spacing = spacing
        self._wanted = False
        self._sender: asyncio.Task[None] | None = None

    async def wake(self) -> None:
        self._wanted = True
        if self._sender is None or self._sender.done():
            # The task inherits this request's context: its log lines carry the correlation id.
            self._sender = asyncio.create_task(self._send_while_wanted())

    async def settled(self) -> None:
        """Wait until every wake-up asked for so far has been sent or has failed, and the
        spacing after the last one has passed."""
        while self._sender is not None and not self._sender.done():
            await asyncio.wait([self._sender])

    async def aclose(self) -> None:
        # Each send is bounded by the Redis timeouts: finishing beats losing the last one.
        await self.settled()

    async def _send_while_wanted(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                await self._redis.enqueue_job(CATCH_UP_JOB)
            except (RedisError, OSError) as error:
                WAKEUP_FAILURES.inc()
                log.warning("projector wake-up not sent", error=repr(error))
            except Exception as error:  # not Redis's: still only a lost hint, the cron covers it
                WAKEUP_FAILURES.inc()
                log.error("projector wake-up failed", error=repr(error))
            # Alive through the spacing: the commits meanwhile only mark a wake-up as wanted,
            # and share the next one.
            await asyncio.sleep(self._spacing)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False
