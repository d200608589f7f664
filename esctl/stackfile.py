"""`<data-dir>/stack.json`: where the running dev stack is, for later `esctl` commands.

Written once the stores answer, removed when `esctl up` stops. A lock beside it (held for as
long as `esctl up` runs, released by the kernel even if it is killed) keeps a second
`esctl up` off the same data folder, where two servers would share one set of files.
"""

import fcntl
import json
import os
from pathlib import Path
from typing import IO

from pydantic import BaseModel

STACK_FILE = "stack.json"
LOCK_FILE = "esctl.lock"


class DataDirInUse(Exception):
    """Another `esctl up` runs on this data folder."""


class StackFile(BaseModel):
    pid: int
    database_url: str
    redis_url: str
    mongodb_url: str
    mongodb_db: str
    command_api: str
    query_api: str
    embedded: list[str]  # the stores this stack started itself

    def environment(self) -> dict[str, str]:
        """The settings that point a service, or a later command, at this stack."""
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DB": self.mongodb_db,
        }


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold the data folder's lock; keep the returned file open for as long as the stack runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = read_stack(data_dir)
        who = f" (pid {running.pid})" if running else ""
        raise DataDirInUse(f"another `esctl up`{who} already runs on {data_dir}") from None
    return handle


def write_stack(data_dir: Path, stack: StackFile) -> None:
    # Written whole and renamed: a reader never sees half a file.
    path = data_dir / STACK_FILE
    partial = path.with_suffix(".json.partial")
    partial.unlink(missing_ok=True)
    # 0600, as tokens.json: a configured URL may carry a password.
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(stack.model_dump_json(indent=2))
    os.replace(partial, path)


def read_stack(data_dir: Path) -> StackFile | None:
    try:
        return StackFile.model_validate(json.loads((data_dir / STACK_FILE).read_text()))
    except (OSError, ValueError):
        return None


def remove_stack(data_dir: Path) -> None:
    (data_dir / STACK_FILE).unlink(missing_ok=True)
