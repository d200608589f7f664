"""`esctl up --embedded` as a newcomer runs it: the whole stack from wheels, a write read back
through the projector, Ctrl-C leaving no process behind, and a restart with every byte kept."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from esctl.ports import free_port

ESCTL = Path(sys.executable).with_name("esctl")  # the console script the install puts on PATH
READY_SECONDS = 60.0
STOP_SECONDS = 15.0
# Read-your-writes on a first start waits for the projector's first wake-up.
MIN_POSITION_WAIT = "10"


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    log: Path
    command_api: str
    query_api: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def descendants(self) -> list[psutil.Process]:
        return list(psutil.Process(self.process.pid).children(recursive=True))


# Left for `esctl up` to decide, as on a fresh machine.
DECIDED_BY_ESCTL = (
    *("DATABASE_URL", "REDIS_URL", "MONGODB_URL"),
    *("WRITE_TOKENS", "READ_TOKENS", "ADMIN_TOKENS"),
)


def environment(command_port: int, query_port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in DECIDED_BY_ESCTL}
    env.update(
        COMMAND_API_PORT=str(command_port),
        QUERY_API_PORT=str(query_port),
        MIN_POSITION_WAIT_SECONDS=MIN_POSITION_WAIT,
    )
    return env


class Launcher:
    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "esdata"
        self.tmp_path = tmp_path
        self.started: list[Stack] = []
        self.seen: list[psutil.Process] = []

    def __call__(self) -> Stack:
        command_port, query_port = free_port(), free_port()
        log = self.tmp_path / f"esctl-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(ESCTL), "up", "--embedded", "--data-dir", str(self.data_dir)],
                env=environment(command_port, query_port),
                stdout=out,
                stderr=subprocess.STDOUT,
                # As a terminal would run it, but out of pytest's process group.
                start_new_session=True,
            )
        stack = Stack(
            process, log, f"http://127.0.0.1:{command_port}", f"http://127.0.0.1:{query_port}"
        )
        self.started.append(stack)
        return stack

    def tokens(self) -> dict[str, str]:
        return dict(json.loads((self.data_dir / "tokens.json").read_text()))

    def kill_everything(self) -> None:
        """Whatever a failed test left running: never a stray server after the suite."""
        for stack in self.started:
            if stack.process.poll() is None:
                self.seen.extend(stack.descendants())
                stack.process.kill()
                stack.process.wait()
        for process in self.seen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.kill_everything()


def wait_until_ready(stack: Stack) -> float:
    """Seconds until both APIs answer `/ready`; fails with esctl's output if they never do."""
    began = time.monotonic()
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() - began < READY_SECONDS:
            assert stack.process.poll() is None, f"esctl up exited:\n{stack.output()}"
            try:
                if all(
                    client.get(f"{url}/ready").status_code == 200
                    for url in (stack.command_api, stack.query_api)
                ):
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"not ready after {READY_SECONDS} s:\n{stack.output()}")


def interrupt(stack: Stack, launcher: Launcher) -> tuple[float, list[psutil.Process]]:
    """Ctrl-C; the seconds it took to exit, and which of its processes are still alive."""
    descendants = stack.descendants()
    launcher.seen.extend(descendants)
    began = time.monotonic()
    stack.process.send_signal(signal.SIGINT)
    try:
        code = stack.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"esctl up still runs after SIGINT:\n{stack.output()}") from None
    took = time.monotonic() - began
    assert code == 0, stack.output()
    _, alive = psutil.wait_procs(descendants, timeout=1.0)
    return took, [process for process in alive if process.status() != psutil.STATUS_ZOMBIE]


def test_up_runs_the_stack_stops_it_whole_and_comes_back_with_its_data(
    launch: Launcher,
) -> None:
    first = launch()
    cold_start = wait_until_ready(first)
    tokens = launch.tokens()
    write = {"Authorization": f"Bearer {tokens['WRITE_TOKENS']}"}
    read = {"Authorization": f"Bearer {tokens['READ_TOKENS']}"}
    with httpx.Client(timeout=15.0) as client:
        created = client.post(
            f"{first.command_api}/users",
            json={"name": "Ada", "email": "ada@example.com"},
            headers=write,
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        after = {"Min-Position": created.headers["Event-Position"]}
        shown = client.get(f"{first.query_api}/users/{user_id}", headers=read | after)
        assert shown.status_code == 200, shown.text
        assert shown.json()["email"] == "ada@example.com"

    assert (launch.data_dir / "stack.json").exists()
    names = {process.name() for process in first.descendants()}
    assert {"postgres", "redis-server"} <= names, names
    stop, alive = interrupt(first, launch)
    assert alive == [], f"left running: {alive}\n{first.output()}"
    assert not (launch.data_dir / "stack.json").exists()

    second = launch()
    warm_start = wait_until_ready(second)
    with httpx.Client(timeout=15.0) as client:
        # MongoDB kept the read document; nothing had to be projected again to serve it.
        again = client.get(f"{second.query_api}/users/{user_id}", headers=read)
        assert again.status_code == 200, again.text
        assert again.json()["email"] == "ada@example.com"
        # PostgreSQL kept the event and the address it holds (guarantee 5).
        taken = client.post(
            f"{second.command_api}/users",
            json={"name": "Ada again", "email": "ada@example.com"},
            headers=write,
        )
        assert taken.status_code == 409, taken.text
    _, alive = interrupt(second, launch)
    assert alive == []
    print(
        f"esctl up: cold start {cold_start:.1f} s, warm start {warm_start:.1f} s, stop {stop:.1f} s"
    )
