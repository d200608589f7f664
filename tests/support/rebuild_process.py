"""`python -m tests.support.rebuild_process`: one rebuild of `main` in a process of its own,
configured from the environment, for tests that SIGKILL it at random points."""

import asyncio

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from eventstore.database import create_engine, create_sessions
from projector.catch_up import Projection
from projector.rebuild import Rebuild, run_rebuild
from settings import Settings


async def main() -> None:
    settings = Settings()
    engine = create_engine(settings, application_name="rebuild-test")
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True
    )
    redis = Redis.from_url(settings.redis_url)
    try:
        projection = Projection(create_sessions(engine), mongo[settings.mongodb_db], batch_size=50)
        rebuild = Rebuild(
            projection, redis, batch_size=100, lock_seconds=settings.projector_lock_seconds
        )
        await run_rebuild(rebuild)
    finally:
        await redis.aclose()
        await mongo.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
