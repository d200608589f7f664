"""Which stack an `esctl` command talks to, and its connections to that stack's stores.

The stack `esctl up` runs on the data folder when there is one (its `stack.json` names the
servers it found or started, embedded ones on ports of its choosing); otherwise the configured
URLs, as every service reads them. One resolution for every command, so that `esctl migrate`,
`esctl projections status` and the rest always agree on which stores they mean.
"""

import asyncio
import json
import os
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from esctl.ports import HOST
from esctl.stackfile import StackFile, read_stack
from esctl.stores import redact
from eventstore.database import create_engine, create_sessions
from projector.catch_up import STORE_FAULTS
from settings import Settings

DataDir = Annotated[
    Path,
    typer.Option(help="The dev stack's data folder: a running `esctl up` there is used."),
]
DEFAULT_DATA_DIR = Path(".esdata")

Database = AsyncDatabase[dict[str, Any]]
Sessions = async_sessionmaker[AsyncSession]

# What a store that is down or unreachable raises; reported in a line, not a traceback.
UNREACHABLE = (*STORE_FAULTS, RedisError)

T = TypeVar("T")

# How long one MongoDB operation of a command may take (see `read_store`).
OPERATION_SECONDS = 120


@dataclass(frozen=True)
class Target:
    settings: Settings
    command_api: str
    data_dir: Path

    def write_token(self) -> str | None:
        """WRITE_TOKENS when set, else the token `esctl up` generated and kept in the folder."""
        if self.settings.write_tokens:
            return min(self.settings.write_tokens)  # any of them will do; min() is stable
        try:
            kept = json.loads((self.data_dir / "tokens.json").read_text())
        except (OSError, ValueError):
            return None
        token = kept.get("WRITE_TOKENS") if isinstance(kept, dict) else None
        return token if isinstance(token, str) and token else None


def resolve_target(data_dir: Path) -> Target:
    stack = _running_stack(data_dir)
    if stack is None:
        # Built afresh, not `get_settings()`: its cache would pin the first environment seen.
        settings = Settings()
        return Target(settings, f"http://{HOST}:{settings.command_api_port}", data_dir)
    # Arguments outrank the environment: the running stack's stores are the ones its
    # services use, whatever this shell happens to export.
    settings = Settings(
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        mongodb_url=stack.mongodb_url,
        mongodb_db=stack.mongodb_db,
    )
    return Target(settings, stack.command_api, data_dir)


def _running_stack(data_dir: Path) -> StackFile | None:
    stack = read_stack(data_dir)
    if stack is None:
        return None
    # An `esctl up` that was SIGKILLed had no chance to remove its file, and its embedded
    # servers went with it: stale URLs would only fail later with a less helpful error.
    try:
        os.kill(stack.pid, 0)
    except ProcessLookupError:
        typer.echo(f"esctl: ignoring {data_dir / 'stack.json'}: pid {stack.pid} is gone", err=True)
        return None
    except PermissionError:  # alive, under another user
        pass
    return stack


def run(target: Target, work: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work; a store that does not answer ends it with one clear line."""
    try:
        return asyncio.run(work)
    except BrokenPipeError:  # an OSError too, but our reader's, not a store's
        raise
    except UNREACHABLE as error:
        fail(f"{_which_store(target.settings, error)} does not answer: {_first_words(error)}")


def _which_store(settings: Settings, error: BaseException) -> str:
    if isinstance(error, PyMongoError):
        return f"MongoDB at {settings.mongodb_url}"
    if isinstance(error, RedisError):
        return f"Redis at {settings.redis_url}"
    # asyncpg raises plain OSError and TimeoutError when it cannot connect.
    return f"PostgreSQL at {settings.database_url}"


def _first_words(error: BaseException) -> str:
    # PyMongo's messages go on to describe the whole topology: the start says what failed.
    text = f"{type(error).__name__}: {error}".split(", Timeout:")[0]
    return text if len(text) <= 300 else text[:300] + "..."


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"esctl: {redact(message)}", err=True)
    raise typer.Exit(code)


@asynccontextmanager
async def event_store(settings: Settings) -> AsyncIterator[Sessions]:
    engine = create_engine(settings, application_name="esctl")
    try:
        yield create_sessions(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def read_store(settings: Settings) -> AsyncIterator[Database]:
    timeout_ms = int(settings.mongo_timeout_seconds * 1000)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # Not the services' few seconds: one bulk write of a rebuild's batch (thousands of
        # documents) can take a busy server longer than that, and a rebuild given up there
        # would have to be run again. A server that is really gone still fails in time.
        socketTimeoutMS=OPERATION_SECONDS * 1000,
        tz_aware=True,
        appname="esctl",
    )
    try:
        yield client[settings.mongodb_db]
    finally:
        await client.close()


@asynccontextmanager
async def coordination(settings: Settings) -> AsyncIterator[Redis]:
    """The Redis through which a rebuild takes its turn with the running projector."""
    timeout = settings.redis_timeout_seconds * 10  # a CLI can afford to wait a little
    client = Redis.from_url(
        settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        yield client
    finally:
        await client.aclose()
