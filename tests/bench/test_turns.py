"""Alternating turns (`bench.turns`): the order, and turns adding up to the figure that one
long run of the same requests would give."""

import random

from bench.measure import latency_figure
from bench.turns import Sample, Tally, Turn, abba, alternate, histogram


def test_turns_go_forwards_then_backwards() -> None:
    assert abba(["a", "b"], 4) == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert abba(["a", "b", "c"], 3) == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]


def test_turns_add_up_to_the_figure_of_all_their_latencies_together() -> None:
    chance = random.Random(6)
    turns = [[round(chance.lognormvariate(2, 1), 3) for _ in range(n)] for n in (1, 250, 999)]
    tally = Tally()
    for number, latencies in enumerate(turns):
        tally.add(Sample(len(latencies), 1.5, number, histogram(latencies)))

    merged = tally.figure("s", "subject", 32, unit="req")
    together = [ms for latencies in turns for ms in latencies]
    expected = latency_figure("s", "subject", 32, together, 4.5, errors=3, unit="req")
    assert merged == expected


def test_an_empty_tally_has_no_percentiles() -> None:
    figure = Tally().figure("s", "subject", 1, unit="req")
    assert (figure.operations, figure.p50_ms, figure.p99_ms, figure.max_ms) == (0, None, None, None)


async def test_each_subject_gets_its_turns_in_abba_order_after_a_warmup() -> None:
    runs: list[tuple[str, float]] = []

    def subject(name: str, latency_ms: float) -> Turn:
        async def turn(seconds: float) -> Sample:
            runs.append((name, seconds))
            return Sample(10, seconds, 0, histogram([latency_ms] * 10))

        return turn

    tallies = await alternate(
        {"a": subject("a", 1.0), "b": subject("b", 2.0)},
        turns=3,
        turn_seconds=2.0,
        warmup_seconds=0.5,
    )

    assert runs == [("a", 0.5), ("b", 0.5)] + [
        (name, 2.0) for name in ("a", "b", "b", "a", "a", "b")
    ]
    assert (tallies["a"].operations, tallies["a"].seconds) == (30, 6.0)
    assert tallies["b"].percentile_ms(0.5) == 2.0
