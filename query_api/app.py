"""The query API's composition root: settings in, a FastAPI app out.

Run with `uvicorn --factory query_api.app:create_app`.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from query_api.consistency import CheckpointReader, PositionHeader
from query_api.deps import ReadModel
from query_api.errors import install_error_handlers
from query_api.indexes import ensure_indexes_eventually
from query_api.loader import DocumentLoader
from query_api.renderings import Renderings
from query_api.routes import operations, orders, users
from readmodel.client import mongo_client
from settings import Settings, get_settings
from web.edge import install_edge
from web.heap import settle_heap
from web.logging import configure_logging
from web.tasks import stop

log = structlog.get_logger()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = mongo_client(settings, "query_api")
        db = client[settings.mongodb_db]
        app.state.db = db
        app.state.read_model = ReadModel(
            db=db,
            checkpoints=CheckpointReader(db),
            documents=DocumentLoader(db),
            renderings=Renderings(),
            min_position_wait_seconds=settings.min_position_wait_seconds,
        )
        indexes = asyncio.create_task(ensure_indexes_eventually(db))
        settle_heap()
        try:
            yield
        finally:
            failure = await stop(indexes)
            if failure is not None:  # not MongoDB's, which it retries: a bug, said at least
                log.error("index task failed", error=repr(failure)[:300])
            await app.state.read_model.checkpoints.close()
            await client.close()

    app = FastAPI(
        title="Orders query API",
        summary="Users and their orders, read from the MongoDB documents the projector keeps.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (users.router, orders.router, operations.router):
        app.include_router(router)
    app.add_middleware(PositionHeader)
    install_edge(app, settings, service="query_api")
    return app
