"""The projector as a real process (`python -m projector`), which a test can SIGKILL."""

import os
import signal
import subprocess
import sys

from settings import Settings
from tests.support.mongo import free_port


class ProjectorProcess:
    def __init__(self, settings: Settings) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "MONGODB_URL": settings.mongodb_url,
            "MONGODB_DB": settings.mongodb_db,
            "PROJECTOR_QUEUE": settings.projector_queue,
            "PROJECTOR_BATCH_SIZE": str(settings.projector_batch_size),
            "PROJECTOR_LOCK_SECONDS": str(settings.projector_lock_seconds),
            "MONGO_TIMEOUT_SECONDS": str(settings.mongo_timeout_seconds),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.env["PROJECTOR_METRICS_PORT"] = str(free_port())
        self._process = subprocess.Popen(
            [sys.executable, "-m", "projector"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever the process was in the middle of."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
