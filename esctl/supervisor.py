"""An asyncio process supervisor: compose's `restart: always`, in the foreground.

Each child runs in a session (and so a process group) of its own. A Ctrl-C in the terminal
then reaches only `esctl`, which stops the children itself, in the order the stack needs
(services before the stores they write to), instead of the terminal signalling all of them at
once. Stopping sends the child's own stop signal to its leader, waits a grace period, then
SIGKILLs the whole group; the group is swept afterwards too, so nothing a child started
outlives it.
"""

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

Output = Callable[[str], None]

# Long enough for any log line; a longer one is reported as cut rather than stalling the pipe.
LINE_LIMIT = 1024 * 1024
# After a child exits, how long its pipe may stay open (held by a stray grandchild).
DRAIN_SECONDS = 1.0


def print_line(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = None
    user: str | None = None  # a system user to run as (PostgreSQL refuses to run as root)
    stop_signal: signal.Signals = signal.SIGTERM


@dataclass
class Backoff:
    """Restart delays: doubling from `first` to `longest`, starting over after a healthy run.

    Docker's restart policy works the same way (it resets after 10 s up): a crash loop costs
    little, and one crash after a long healthy run is retried at once.
    """

    first: float = 0.5
    longest: float = 30.0
    stable_after: float = 10.0
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def delay(self, uptime: float) -> float:
        if uptime >= self.stable_after:
            self._next = self.first
        delay = self._next
        self._next = min(delay * 2, self.longest)
        return delay


def describe_exit(code: int | None) -> str:
    if code is None:
        return "could not start"
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Child:
    """One supervised command: started now, restarted whenever it dies until `stop`."""

    def __init__(self, spec: ChildSpec, output: Output, backoff: Backoff) -> None:
        self.spec = spec
        self.starts = 0
        self._output = output
        self._backoff = backoff
        self._process: asyncio.subprocess.Process | None = None
        self._group: int | None = None
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(), name=f"supervise {spec.name}")

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def supervising(self) -> bool:
        return not self._task.done()

    def log(self, message: str) -> None:
        self._output(f"[esctl] {self.spec.name} {message}")

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            began = loop.time()
            code = await self._run_once()
            if self._stopping.is_set():
                return
            delay = self._backoff.delay(loop.time() - began)
            self.log(f"{describe_exit(code)}; restarting in {delay:.1f} s")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _run_once(self) -> int | None:
        # The output pipe is ours, not the subprocess transport's: `Process.wait()` would
        # otherwise also wait for the pipe to close, which a grandchild that outlives the
        # child can put off for ever.
        read_end, write_end = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                env=None if self.spec.env is None else dict(self.spec.env),
                user=self.spec.user,
                start_new_session=True,
            )
        except (OSError, ValueError) as error:
            os.close(read_end)
            self.log(f"cannot start: {error}")
            return None
        finally:
            os.close(write_end)
        self._process, self._group = process, process.pid
        self.starts += 1
        if self.starts > 1:
            self.log(f"restarted (pid {process.pid})")
        if self._stopping.is_set():  # `stop` came while it was starting
            self._signal(self.spec.stop_signal)
        output, pump = await self._pump_from(read_end)
        code = await process.wait()
        # What the child started dies with it, as a container's processes do: no orphans, and
        # no leftover (a PostgreSQL backend, say) holding what the restarted child needs.
        self.kill()
        # On timeout the pump is cancelled: what is left belongs to a stray process.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await pump
        output.close()
        return code

    async def _pump_from(self, read_end: int) -> tuple[asyncio.ReadTransport, asyncio.Task[None]]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", buffering=0)
        )
        return transport, asyncio.create_task(self._pump(reader))

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        prefix = f"[{self.spec.name}] "
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # longer than LINE_LIMIT: asyncio has dropped it
                self._output(prefix + "(a line too long to show was cut)")
                continue
            if not line:
                return
            self._output(prefix + line.decode(errors="replace").rstrip())

    def _signal(self, signum: signal.Signals) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the child's whole process group at once."""
        if self._group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._group, signal.SIGKILL)

    def abandon(self) -> None:
        """Kill it now and never restart it (a later `stop` then returns at once)."""
        self._stopping.set()
        self.kill()

    async def stop(self, grace: float) -> None:
        """Stop it for good: its stop signal, then SIGKILL for the group after `grace` seconds."""
        self._stopping.set()
        self._signal(self.spec.stop_signal)
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(self._task)
        except TimeoutError:
            self.log(f"did not stop within {grace:.0f} s; killing it")
            self.kill()
            await self._task
        # The leader is gone; anything it left behind in its group goes with it.
        self.kill()


class Supervisor:
    def __init__(self, output: Output = print_line, backoff: Callable[[], Backoff] = Backoff):
        self.output = output
        self.children: list[Child] = []
        self._backoff = backoff

    def start(self, spec: ChildSpec) -> Child:
        child = Child(spec, self.output, self._backoff())
        self.children.append(child)
        return child

    async def stop(self, children: Sequence[Child], grace: float) -> None:
        """Stop these children together, each within `grace` seconds."""
        await asyncio.gather(*(child.stop(grace) for child in children))

    def kill_all(self) -> None:
        """The impatient path (a second Ctrl-C): SIGKILL every child's group now, for good."""
        for child in self.children:
            child.abandon()
