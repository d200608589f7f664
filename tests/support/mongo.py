"""A real MongoDB-wire server for tests: SecantusDB's `secantusd-py`, as a child process.

A separate process, not an in-process server, so that tests can stop, freeze (SIGSTOP) and
restart it like a real mongod, and so that it does not compete with the test's event loop.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MongoServer:
    def __init__(self, storage: Path | None = None, port: int | None = None) -> None:
        self.storage = storage or Path(tempfile.mkdtemp(prefix="secantus-test-"))
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> None:
        command = shutil.which("secantusd-py", path=os.path.dirname(sys.executable))
        assert command is not None, "secantusd-py is installed with the project"
        self._process = subprocess.Popen(
            [
                command,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.storage),
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"secantusd-py exited with {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("secantusd-py did not start listening")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def freeze(self, timeout: float = 5.0) -> None:
        """SIGSTOP: it stops answering without closing a connection, the worst kind of down.

        Returns once every thread has stopped: the signal takes effect a little after `kill`
        returns, and a thread still running would answer a request sent meanwhile.
        """
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self._process.pid}/task")
        deadline = time.monotonic() + timeout
        while tasks.is_dir() and not all(_stopped(task) for task in tasks.iterdir()):
            if time.monotonic() > deadline:
                raise TimeoutError("secantusd-py did not stop")
            time.sleep(0.001)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.storage, ignore_errors=True)


def _stopped(task: Path) -> bool:
    try:
        state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # the thread ended
        return True
    return state in {"T", "t"}
