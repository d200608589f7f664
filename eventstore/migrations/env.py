import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from eventstore.tables import Base
from settings import get_settings


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    url = context.config.attributes.get("database_url") or get_settings().database_url
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_run_online())
