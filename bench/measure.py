"""What one measurement is, and how an in-process load is driven and timed.

Every figure is throughput plus latency percentiles; ratios compare two figures of the same
run, which is what stays meaningful on a noisy machine. A reading is a single value that is
not a rate (a peak memory).
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """One subject measured in one scenario at one concurrency."""

    scenario: str
    subject: str
    concurrency: int
    operations: int
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    errors: int = 0
    unit: str = "ops"
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.scenario}/{self.subject}/c{self.concurrency}"

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Ratio:
    """`subject` over `baseline`, by throughput or by p50 latency, with the issue's target
    when it sets one: a floor for throughput, a ceiling for latency (`at_most`)."""

    name: str
    subject: str  # a Figure.key
    baseline: str  # a Figure.key
    value: float
    target: float | None = None
    of: str = "throughput"
    at_most: bool = False

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.at_most else self.value >= self.target


@dataclass(frozen=True)
class Reading:
    """One value that is not a rate, such as a process's peak memory, with the issue's
    ceiling when it sets one."""

    scenario: str
    name: str
    value: float
    unit: str
    at_most: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.at_most is None else self.value <= self.at_most


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # scenario: why

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {figure.key}: {figure.rate:,.0f} {figure.unit}/s", flush=True)
        return figure

    def compare(
        self, name: str, subject: Figure, baseline: Figure, target: float | None = None
    ) -> None:
        value = subject.rate / baseline.rate if baseline.rate else math.nan
        self.ratios.append(Ratio(name, subject.key, baseline.key, value, target))

    def compare_p50(
        self, name: str, subject: Figure, baseline: Figure, at_most: float | None = None
    ) -> None:
        """Latency, where lower is better: the target is a ceiling."""
        value = (
            subject.p50_ms / baseline.p50_ms
            if subject.p50_ms is not None and baseline.p50_ms
            else math.nan
        )
        self.ratios.append(
            Ratio(name, subject.key, baseline.key, value, at_most, of="p50", at_most=True)
        )

    def read(self, reading: Reading) -> Reading:
        self.readings.append(reading)
        value = f"{reading.value:,.1f} {reading.unit}"
        print(f"  {reading.scenario}/{reading.name}: {value}", flush=True)
        return reading


def latency_reading(
    figure: Figure, which: str, at_most: float | None = None, note: str = ""
) -> Reading:
    """A figure's p50 or p99 (`which`) as a reading in ms, against a ceiling."""
    value = figure.p50_ms if which == "p50" else figure.p99_ms
    return Reading(
        figure.scenario,
        f"{figure.subject}, {which}",
        math.nan if value is None else value,
        "ms",
        at_most,
        note,
    )


def nearest_rank(fraction: float, count: int) -> int:
    """The 0-based index of the `fraction` percentile among `count` ascending values."""
    return max(math.ceil(fraction * count) - 1, 0)


def percentile(sorted_ms: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not sorted_ms:
        return math.nan
    return sorted_ms[nearest_rank(fraction, len(sorted_ms))]


def latency_figure(
    scenario: str,
    subject: str,
    concurrency: int,
    latencies_ms: list[float],
    seconds: float,
    *,
    errors: int = 0,
    unit: str = "ops",
    note: str = "",
) -> Figure:
    ordered = sorted(latencies_ms)
    return Figure(
        scenario,
        subject,
        concurrency,
        operations=len(ordered),
        seconds=seconds,
        p50_ms=percentile(ordered, 0.50),
        p99_ms=percentile(ordered, 0.99),
        max_ms=ordered[-1] if ordered else None,
        errors=errors,
        unit=unit,
        note=note,
    )


async def drive(
    operation: Callable[[int], Awaitable[object]], concurrency: int, seconds: float
) -> tuple[list[float], float]:
    """Run `operation(worker)` in `concurrency` loops for `seconds`; every latency in ms, and
    the time the loops took (each finishes the operation under way when time is up)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            await operation(number)
            latencies.append((time.perf_counter_ns() - started) / 1e6)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies, time.perf_counter() - started
