"""`esctl up`: the whole stack in the foreground, on a machine with only Python.

Stores first (configured, default or embedded: see `stores`), then migrations, then the
three services as separate processes, all supervised; Ctrl-C stops them in reverse order.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from esctl.embedded import EmbeddedServerError, prepare
from esctl.ports import HOST, accepts, free_port, port_is_free
from esctl.stackfile import (
    DataDirInUse,
    StackFile,
    lock_data_dir,
    remove_stack,
    write_stack,
)
from esctl.stores import (
    MONGODB,
    POSTGRES,
    REDIS,
    Resolved,
    StoreUnavailable,
    redact,
    resolve_all,
    why_silent,
)
from esctl.supervisor import Child, ChildSpec, Output, Supervisor, print_line
from esctl.tokens import resolve_tokens
from eventstore.migrate import upgrade
from settings import Settings

# How long a store or an API may take to answer at start (a first initdb takes seconds).
READY_SECONDS = 60.0
# How long after its stop signal a child may take before it is SIGKILLed. The stores get
# longer: SecantusDB alone takes 2-4 s to close its files, and a clean close is what keeps
# their data (the services keep nothing, so they are cut short sooner).
SERVICE_GRACE_SECONDS = 5.0
STORE_GRACE_SECONDS = 10.0


class StartupError(Exception):
    """The stack cannot come up; the message says why."""


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    embedded: bool = False


def python_module(module: str, *args: str) -> tuple[str, ...]:
    # This interpreter, so that every child imports the same installed project.
    return (sys.executable, "-m", module, *args)


def uvicorn(factory: str, port: int) -> tuple[str, ...]:
    return python_module(
        "uvicorn",
        *("--factory", factory, "--host", HOST, "--port", str(port)),
        # The apps log every request themselves, as JSON with its correlation id.
        "--no-access-log",
        # A client that holds a connection open must not hold up Ctrl-C.
        *("--timeout-graceful-shutdown", "3"),
    )


class DevStack:
    def __init__(self, options: UpOptions, output: Output) -> None:
        self.data_dir = options.data_dir
        self.embedded = options.embedded
        self.output = output
        self.supervisor = Supervisor(output)
        self.servers: list[Child] = []
        self.services: list[Child] = []

    def log(self, message: str) -> None:
        self.output(f"[esctl] {message}")

    async def start(self) -> None:
        tokens = resolve_tokens(self.data_dir)  # before Settings: it exports generated ones
        settings = Settings()
        api_ports = {
            "command_api": settings.command_api_port,
            "query_api": settings.query_api_port,
        }
        for name, port in api_ports.items():
            if not port_is_free(port):
                variable = f"{name.upper()}_PORT"
                raise StartupError(f"port {port} ({variable}) is taken; set {variable}")

        try:
            resolved = await resolve_all(settings, embedded=self.embedded)
        except StoreUnavailable as error:
            raise StartupError(str(error)) from None
        url_of = await self._bring_up_all(resolved)
        stack = StackFile(
            pid=os.getpid(),
            database_url=url_of[POSTGRES.name],
            redis_url=url_of[REDIS.name],
            mongodb_url=url_of[MONGODB.name],
            mongodb_db=settings.mongodb_db,
            command_api=f"http://{HOST}:{settings.command_api_port}",
            query_api=f"http://{HOST}:{settings.query_api_port}",
            embedded=[choice.store.name for choice in resolved if choice.embedded],
        )
        write_stack(self.data_dir, stack)

        try:
            # In a thread: Alembic runs an event loop of its own.
            await asyncio.to_thread(upgrade, stack.database_url)
        except Exception as error:  # whatever it was, the services cannot run without it
            raise StartupError(f"migrations failed: {error}") from error
        self.log("event store schema is up to date")

        env = {**os.environ, **stack.environment(), "PYTHONUNBUFFERED": "1"}
        metrics_port = free_port()
        for spec in (
            ChildSpec(
                "command_api", uvicorn("command_api.app:create_app", api_ports["command_api"]), env
            ),
            ChildSpec(
                "query_api", uvicorn("query_api.app:create_app", api_ports["query_api"]), env
            ),
            ChildSpec(
                "projector",
                python_module("projector"),
                {**env, "PROJECTOR_METRICS_PORT": str(metrics_port)},
            ),
        ):
            self.services.append(self.supervisor.start(spec))
        await asyncio.gather(
            *(self._until(name, _accepting(port)) for name, port in api_ports.items())
        )
        for line in banner(stack, tokens, metrics_port, self.data_dir):
            self.output(line)

    async def _bring_up_all(self, resolved: list[Resolved]) -> dict[str, str]:
        """Each store's URL, once it answers; the embedded ones start side by side."""
        # A task group, not `gather`: when one store fails, the others are cancelled rather
        # than left running on, to start a server after the stack has stopped.
        try:
            async with asyncio.TaskGroup() as group:
                urls = {
                    choice.store.name: group.create_task(self._bring_up(choice))
                    for choice in resolved
                }
        except ExceptionGroup as failed:
            reasons, others = failed.split(StartupError)
            if others is not None or reasons is None:
                raise
            raise StartupError("; ".join(map(str, reasons.exceptions))) from None
        return {name: task.result() for name, task in urls.items()}

    async def _bring_up(self, resolved: Resolved) -> str:
        store = resolved.store
        if resolved.url is not None:
            self.log(f"{store.name}: using {redact(resolved.url)}")
            return resolved.url
        try:
            server = await prepare(store, self.data_dir)
        except EmbeddedServerError as error:
            raise StartupError(str(error)) from None
        self.servers.append(self.supervisor.start(server.spec))

        async def ready() -> bool:
            return await why_silent(store, server.url, timeout_seconds=1.0) is None

        await self._until(store.name, ready)
        self.log(f"{store.name}: embedded, at {server.url}")
        return server.url

    async def _until(self, name: str, ready: Callable[[], Awaitable[bool]]) -> None:
        """Poll until `ready`; the supervisor restarts a server that dies meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_SECONDS
        while not await ready():
            if loop.time() > deadline:
                raise StartupError(f"{name} is not ready after {READY_SECONDS:.0f} s (log above)")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Services first, so none of them sees its store vanish; then the stores."""
        await self.supervisor.stop(self.services, SERVICE_GRACE_SECONDS)
        await self.supervisor.stop(self.servers, STORE_GRACE_SECONDS)

    def kill(self) -> None:
        self.supervisor.kill_all()


def _accepting(port: int) -> Callable[[], Awaitable[bool]]:
    # uvicorn binds its port only once the app's start-up has run.
    return lambda: accepts(port)


def banner(
    stack: StackFile, tokens: dict[str, str], metrics_port: int, data_dir: Path
) -> list[str]:
    def where(name: str, url: str) -> str:
        return f"{redact(url)}  ({'embedded' if name in stack.embedded else 'already running'})"

    write, read = tokens["WRITE_TOKENS"], tokens["READ_TOKENS"]
    return [
        f"[esctl] the stack is up; data in {data_dir}, Ctrl-C stops it",
        f"  command API   {stack.command_api}   (docs: {stack.command_api}/docs)",
        f"  query API     {stack.query_api}   (docs: {stack.query_api}/docs)",
        f"  projector     metrics at http://{HOST}:{metrics_port}/metrics",
        f"  PostgreSQL    {where(POSTGRES.name, stack.database_url)}",
        f"  Redis         {where(REDIS.name, stack.redis_url)}",
        f"  MongoDB       {where(MONGODB.name, stack.mongodb_url)}, database {stack.mongodb_db}",
        f"  write token   {write}",
        f"  read token    {read}",
        f"  admin token   {tokens['ADMIN_TOKENS']}",
        "  try it (the second line takes the id and the Event-Position header from the first):",
        f"    curl -si -X POST {stack.command_api}/users -H 'Authorization: Bearer {write}' "
        """-H 'Content-Type: application/json' -d '{"name": "Ada", "email": "ada@example.com"}'""",
        f"    curl -s {stack.query_api}/users/ID -H 'Authorization: Bearer {read}' "
        "-H 'Min-Position: POSITION'",
    ]


def fail(message: str) -> None:
    print(f"esctl up: {message}", file=sys.stderr, flush=True)


# SIGHUP too: a closed terminal must stop the stack, not orphan it.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A launcher such as `uv run` passes on the signal the terminal also sent us: one request.
SAME_REQUEST_SECONDS = 1.0


async def run_up(options: UpOptions, output: Output = print_line) -> int:
    """Run the stack until SIGINT, SIGTERM or SIGHUP; returns the exit code for the shell."""
    data_dir = options.data_dir.resolve()
    try:
        lock = lock_data_dir(data_dir)
    except DataDirInUse as error:
        fail(str(error))
        return 1
    stack = DevStack(UpOptions(data_dir, options.embedded), output)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    first_signal_at: float | None = None

    def on_signal() -> None:
        nonlocal first_signal_at
        now = loop.time()
        if first_signal_at is None:
            first_signal_at = now
            stopping.set()
        elif now - first_signal_at > SAME_REQUEST_SECONDS:
            # A second Ctrl-C: the user will not wait for a clean stop.
            stack.log("killing everything now")
            stack.kill()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal)
    try:
        return await _serve(stack, stopping)
    finally:
        # Whatever ended the run (a signal, a failed start, a bug): nothing is left behind.
        if stack.supervisor.children:
            stack.log("stopping")
            await stack.stop()
            stack.log("stopped")
        remove_stack(data_dir)
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        lock.close()


async def _serve(stack: DevStack, stopping: asyncio.Event) -> int:
    starting = asyncio.create_task(stack.start())
    stop_requested = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({starting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped while starting
            return 0
        try:
            starting.result()
        except StartupError as error:
            fail(str(error))
            return 1
        await stop_requested
        return 0
    finally:
        for task in (starting, stop_requested):
            task.cancel()
        await asyncio.gather(starting, stop_requested, return_exceptions=True)
