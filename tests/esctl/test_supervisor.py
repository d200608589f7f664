"""The supervisor restarts what dies, with backoff, and stops what it started, all of it."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import psutil
import pytest

from esctl.supervisor import Backoff, Child, ChildSpec, Supervisor

FAST = 0.1  # a first restart delay that keeps these tests quick


class Log(list[str]):
    def lines_with(self, text: str) -> list[str]:
        return [line for line in self if text in line]


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def supervisor() -> AsyncIterator[tuple[Supervisor, Log]]:
    log = Log()
    supervisor = Supervisor(log.append, backoff=lambda: Backoff(first=FAST, longest=0.4))
    yield supervisor, log
    await supervisor.stop(supervisor.children, grace=1.0)


async def started(child: Child, log: Log, marker: str = "ready") -> int:
    await eventually(lambda: child.pid is not None and bool(log.lines_with(marker)))
    assert child.pid is not None
    return child.pid


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def test_a_killed_child_is_restarted_and_the_restart_is_logged(
    supervisor: tuple[Supervisor, Log],
) -> None:
    runner, log = supervisor
    child = runner.start(
        ChildSpec("sleeper", python("print('ready'); import time; time.sleep(60)"))
    )
    first = await started(child, log)
    assert log.lines_with("[sleeper] ready")

    os.kill(first, signal.SIGKILL)
    await eventually(lambda: child.pid not in (None, first) and len(log.lines_with("ready")) == 2)

    assert child.starts == 2
    assert log.lines_with("[esctl] sleeper was killed by SIGKILL; restarting in 0.1 s")
    assert log.lines_with("[esctl] sleeper restarted (pid")


async def test_a_child_that_keeps_dying_is_restarted_later_and_later(
    supervisor: tuple[Supervisor, Log],
) -> None:
    runner, log = supervisor
    runner.start(ChildSpec("crasher", python("raise SystemExit(3)")))
    await eventually(lambda: len(log.lines_with("restarting in")) >= 5)
    delays = [line.split("restarting in ")[1] for line in log.lines_with("restarting in")]
    assert delays[:5] == ["0.1 s", "0.2 s", "0.4 s", "0.4 s", "0.4 s"]
    assert log.lines_with("[esctl] crasher exited with code 3")


def test_the_backoff_starts_over_after_a_healthy_run() -> None:
    backoff = Backoff(first=0.5, longest=30.0, stable_after=10.0)
    assert [backoff.delay(uptime=1.0) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(uptime=10.0) == 0.5
    assert backoff.delay(uptime=1.0) == 1.0


async def test_stop_kills_a_child_that_ignores_its_stop_signal(
    supervisor: tuple[Supervisor, Log],
) -> None:
    runner, log = supervisor
    stubborn = python(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    child = runner.start(ChildSpec("stubborn", stubborn))
    pid = await started(child, log)

    began = asyncio.get_running_loop().time()
    await runner.stop([child], grace=0.5)

    assert asyncio.get_running_loop().time() - began < 3.0
    assert gone(pid)
    assert log.lines_with("[esctl] stubborn did not stop within")
    assert not child.supervising


async def test_stop_leaves_nothing_a_child_started_behind(
    supervisor: tuple[Supervisor, Log],
) -> None:
    # The child dies at SIGTERM; the grandchild it started would live on as an orphan.
    runner, log = supervisor
    parent = python(
        "import subprocess, sys, time; "
        "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('ready', grandchild.pid, flush=True); time.sleep(60)"
    )
    child = runner.start(ChildSpec("parent", parent))
    pid = await started(child, log)
    grandchild = int(log.lines_with("[parent] ready")[0].split()[-1])
    assert not gone(grandchild)

    await runner.stop([child], grace=2.0)

    assert gone(pid)
    await eventually(lambda: gone(grandchild), seconds=2.0)


async def test_a_child_stopped_while_waiting_to_restart_is_not_started_again(
    supervisor: tuple[Supervisor, Log],
) -> None:
    _, log = supervisor
    slow = Supervisor(log.append, backoff=lambda: Backoff(first=30.0))
    child = slow.start(ChildSpec("once", python("raise SystemExit(1)")))
    await eventually(lambda: bool(log.lines_with("restarting in 30.0 s")))

    await _within(1.0, slow.stop([child], grace=1.0))

    assert child.starts == 1
    assert not child.supervising


async def _within(seconds: float, step: Awaitable[None]) -> None:
    await asyncio.wait_for(step, seconds)


async def test_a_child_killed_at_once_is_not_restarted(
    supervisor: tuple[Supervisor, Log],
) -> None:
    # The second Ctrl-C: everything dies now, and nothing comes back while the rest stops.
    runner, log = supervisor
    child = runner.start(
        ChildSpec("sleeper", python("print('ready'); import time; time.sleep(60)"))
    )
    pid = await started(child, log)

    runner.kill_all()

    await eventually(lambda: not child.supervising, seconds=2.0)
    assert gone(pid)
    assert child.starts == 1
    assert not log.lines_with("restarting")
