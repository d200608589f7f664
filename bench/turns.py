"""Subjects compared by a ratio, measured in alternating turns rather than one after the other.

On this shared machine the load of the minute moves a rate by more than the margins the targets
leave, so a subject measured in the first ten seconds and its baseline in the next ten can be
judged by the machine rather than by themselves. Short turns in ABBA order (A B, B A, A B, ...)
spread any such drift over every subject alike; each subject's turns then add up to one figure:
operations, time and errors summed, and percentiles from all of its latencies together.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.context import Context
from bench.measure import Figure, drive, nearest_rank

# One latency in whole microseconds (wrk's resolution) → how many requests took it.
Histogram = Mapping[int, int]


@dataclass(frozen=True)
class Sample:
    """What one turn of one subject measured."""

    operations: int
    seconds: float
    errors: int
    latencies_us: Histogram


def histogram(latencies_ms: Iterable[float]) -> Histogram:
    return Counter(round(ms * 1000) for ms in latencies_ms)


@dataclass
class Tally:
    """A subject's turns added up."""

    operations: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies_us: Counter[int] = field(default_factory=Counter)

    def add(self, sample: Sample) -> None:
        self.operations += sample.operations
        self.seconds += sample.seconds
        self.errors += sample.errors
        self.latencies_us.update(sample.latencies_us)

    def percentile_ms(self, fraction: float) -> float | None:
        """Nearest rank, as `measure.percentile`."""
        total = sum(self.latencies_us.values())
        if total == 0:
            return None
        rank = nearest_rank(fraction, total)
        seen = 0
        for latency, count in sorted(self.latencies_us.items()):
            seen += count
            if seen > rank:
                return latency / 1000
        raise AssertionError("unreachable: the ranks add up to the total")

    def figure(
        self, scenario: str, subject: str, concurrency: int, *, unit: str, note: str = ""
    ) -> Figure:
        return Figure(
            scenario,
            subject,
            concurrency,
            operations=self.operations,
            seconds=self.seconds,
            p50_ms=self.percentile_ms(0.50),
            p99_ms=self.percentile_ms(0.99),
            max_ms=max(self.latencies_us) / 1000 if self.latencies_us else None,
            errors=self.errors,
            unit=unit,
            note=note,
        )


# Measures its subject for about the given number of seconds.
Turn = Callable[[float], Awaitable[Sample]]


def driven(operation: Callable[[int], Awaitable[object]], concurrency: int) -> Turn:
    """Turns of `operation` run in `concurrency` loops in this process (`measure.drive`)."""

    async def turn(seconds: float) -> Sample:
        latencies, took = await drive(operation, concurrency, seconds)
        return Sample(len(latencies), took, 0, histogram(latencies))

    return turn


def abba(subjects: Sequence[str], turns: int) -> list[str]:
    """The order in which to run `turns` turns of each subject: forwards, then backwards."""
    return [
        subject
        for number in range(turns)
        for subject in (subjects if number % 2 == 0 else list(reversed(subjects)))
    ]


async def alternate(
    subjects: Mapping[str, Turn],
    *,
    turns: int,
    turn_seconds: float,
    warmup_seconds: float,
    pause_seconds: float = 0.0,
) -> dict[str, Tally]:
    """Warm each subject up, then `turns` turns of `turn_seconds` each, in ABBA order.

    Each turn starts after a pause: a server loaded to saturation still works through the
    requests it had taken when the load generator stopped (a thread-pool app for a few
    hundred milliseconds), and that tail must not fall on the next subject's turn."""
    for turn in subjects.values():
        await turn(warmup_seconds)
    tallies = {name: Tally() for name in subjects}
    for name in abba(list(subjects), turns):
        await asyncio.sleep(pause_seconds)
        tallies[name].add(await subjects[name](turn_seconds))
    return tallies


async def measure_turns(
    context: Context,
    scenario: str,
    subjects: Mapping[str, Turn],
    *,
    concurrency: int,
    unit: str,
    turns: int,
    turn_seconds: float,
) -> dict[str, Figure]:
    """Each subject's figure from alternating turns, after the run's warm-up and with its
    pause before each turn; the figures are added to the run's results."""
    sizes = context.sizes
    tallies = await alternate(
        subjects,
        turns=turns,
        turn_seconds=turn_seconds,
        warmup_seconds=sizes.warmup_seconds,
        pause_seconds=sizes.turn_pause_seconds,
    )
    note = f"{turns} alternating turns of {turn_seconds:g} s"
    return {
        name: context.results.add(tally.figure(scenario, name, concurrency, unit=unit, note=note))
        for name, tally in tallies.items()
    }


def measure_http(
    context: Context, scenario: str, subjects: Mapping[str, Turn]
) -> Awaitable[dict[str, Figure]]:
    """HTTP subjects in `http_turns` alternating runs of `seconds` each."""
    sizes = context.sizes
    return measure_turns(
        context,
        scenario,
        subjects,
        concurrency=sizes.http_connections,
        unit="req",
        turns=sizes.http_turns,
        turn_seconds=sizes.seconds,
    )
