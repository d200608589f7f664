"""The peer a Python user would pick instead: the `eventsourcing` library, with its PostgreSQL
persistence, saving one new aggregate per call from several threads (scenario 1).

Installed with the `bench` dependency group only; CI type-checks without it, hence the
lenient mypy flags of this one file.
"""
# mypy: allow-subclassing-any, allow-untyped-decorators

import threading
import time
import uuid

from eventsourcing.application import Application  # type: ignore[import-not-found,unused-ignore]
from eventsourcing.domain import Aggregate, event  # type: ignore[import-not-found,unused-ignore]
from sqlalchemy.engine import make_url


class BenchUser(Aggregate):
    @event("Registered")
    def __init__(self, name: str, email: str) -> None:
        self.name = name
        self.email = email


class Signups(Application[uuid.UUID]):
    pass


def environment(database_url: str, threads: int) -> dict[str, str]:
    url = make_url(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "postgres",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_POOL_SIZE": str(threads),
        "POSTGRES_MAX_OVERFLOW": "0",
    }


def save_new_aggregates(
    database_url: str, threads: int, seconds: float
) -> tuple[list[float], float]:
    """Save new aggregates from `threads` threads for `seconds`; each latency in ms, and the
    time taken. Blocking: call it in a thread."""
    app = Signups(env=environment(database_url, threads))
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work() -> None:
        mine: list[float] = []
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            app.save(BenchUser("Ada", f"ada-{uuid.uuid4().hex[:12]}@example.com"))
            mine.append((time.perf_counter_ns() - started) / 1e6)
        with lock:
            latencies.extend(mine)

    try:
        started = time.perf_counter()
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return latencies, time.perf_counter() - started
    finally:
        app.close()
