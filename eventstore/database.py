"""The async engine and session factory, built from settings in each process's composition root."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from settings import Settings


def create_engine(settings: Settings, application_name: str) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_timeout_seconds,
        # Pooled connections do not survive a PostgreSQL restart: test each one on checkout,
        # so the first request after a restart reconnects instead of failing (guarantee 6).
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.db_timeout_seconds,
            "command_timeout": settings.db_timeout_seconds * 2,
            "server_settings": {"application_name": application_name},
        },
    )


def create_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
