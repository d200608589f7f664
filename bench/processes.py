"""Child processes the harness starts and stops: embedded stores, the services, baselines."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from esctl.ports import HOST, accepts

READY_SECONDS = 60.0


class Child:
    """A process in a session of its own, with its output in a log file of the run."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self.stop_signal = stop_signal
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                list(argv),
                env=None if env is None else {**os.environ, **env},
                user=user,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def until_ready(self, ready: Callable[[], Awaitable[bool]]) -> None:
        """Poll `ready()` until it is true; fails if the process exits first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_SECONDS
        while not await ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}:\n{self.tail()}")
            if loop.time() > deadline:
                raise RuntimeError(f"{self.name} is not ready; see {self.log}:\n{self.tail()}")
            await asyncio.sleep(0.1)

    async def until_listening(self, port: int) -> None:
        await self.until_ready(lambda: accepts(port))

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def uvicorn(factory: str, port: int) -> list[str]:
    """A service as `esctl up` runs it: one uvicorn process, no access log (the apps log)."""
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", factory, "--host", HOST, "--port", str(port)),
        "--no-access-log",
        *("--timeout-graceful-shutdown", "3"),
    ]
