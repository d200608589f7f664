"""The command API's composition root: settings in, a FastAPI app out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from command_api.errors import install_error_handlers
from command_api.routes import admin, events, operations, orders, users
from command_api.wakeup import ProjectorWakeup, projector_queue
from eventstore.database import create_engine, create_sessions
from eventstore.group import GroupedAppends
from readmodel.client import mongo_client
from settings import Settings, get_settings
from web.edge import install_edge
from web.heap import settle_heap
from web.logging import configure_logging


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, application_name="command_api")
        app.state.engine = engine
        app.state.sessions = create_sessions(engine)
        app.state.appends = GroupedAppends(engine)
        queue = projector_queue(settings)
        app.state.projector_queue = queue
        wakeup = ProjectorWakeup(queue, spacing=settings.projector_poll_seconds)
        app.state.wakeup = wakeup
        mongo = mongo_client(settings, "command_api")
        app.state.read_store = mongo[settings.mongodb_db]
        settle_heap()
        try:
            yield
        finally:
            await mongo.close()
            await wakeup.aclose()
            await queue.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Orders command API",
        summary="Commands for users and their orders, appended as events to PostgreSQL.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (users.router, orders.router, events.router, admin.router, operations.router):
        app.include_router(router)
    install_edge(app, settings, service="command_api")
    return app
