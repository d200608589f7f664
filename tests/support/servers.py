"""The tests' PostgreSQL and Redis, found the way `esctl up` finds them.

`DATABASE_URL` / `REDIS_URL` (or the default) when that server answers; otherwise an embedded
server for this run, in a temporary folder, stopped and removed when the run ends. So
`uv run pytest` needs nothing but Python, and uses the real local servers where they run.
MongoDB needs no resolving: the tests start SecantusDB servers of their own (`mongo.py`).
"""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from esctl.embedded import prepare
from esctl.stores import POSTGRES, REDIS, Store, why_silent

READY_SECONDS = 60.0


class EmbeddedServers:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="orders-es-tests-"))
        self._processes: list[tuple[signal.Signals, subprocess.Popen[bytes]]] = []

    def resolve(self) -> None:
        """Export a URL that answers for each store, starting embedded servers as needed."""
        for store in (POSTGRES, REDIS):
            configured = os.environ.get(store.variable)
            problem = asyncio.run(why_silent(store, configured or store.default))
            if configured and problem is not None:
                raise RuntimeError(f"{store.variable} is set but does not answer: {problem}")
            os.environ[store.variable] = configured or (
                store.default if problem is None else self._start(store)
            )

    def _start(self, store: Store) -> str:
        server = asyncio.run(prepare(store, self.folder))
        spec = server.spec
        log = (self.folder / f"{store.name}.log").open("wb")
        process = subprocess.Popen(
            spec.argv,
            env=None if spec.env is None else {**os.environ, **spec.env},
            user=spec.user,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._processes.append((spec.stop_signal, process))
        deadline = time.monotonic() + READY_SECONDS
        while (problem := asyncio.run(why_silent(store, server.url))) is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the embedded {store.name} did not start: {problem}")
            time.sleep(0.2)
        return server.url

    def stop(self) -> None:
        for stop_signal, process in reversed(self._processes):
            process.send_signal(stop_signal)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
