"""How big and how long each scenario runs: the issue's sizes, or tiny ones for a smoke run."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    seconds: float  # each measured run
    warmup_seconds: float  # each subject, before its measured runs
    # Compared subjects are measured in alternating turns (`bench.turns`), an even number so
    # that ABBA comes out balanced: the append loops in `turns` turns that add up to
    # `seconds`; the HTTP scenarios' subjects (the in-process `find_one` ceiling with them) in
    # `http_turns` runs of `seconds` each, since every wrk run opens its connections at once,
    # and its first few hundred ms (up to 150 ms a request, even for `/health`) would weigh
    # more in shorter ones.
    turns: int = 4
    http_turns: int = 2
    turn_pause_seconds: float = 1.0  # before each turn, for the one before to drain
    # The rebuild and its ceiling, runs of seconds each, take this many turns each.
    projection_turns: int = 2
    append_concurrency: tuple[int, ...] = (1, 8, 32)
    library_threads: int = 8
    http_connections: int = 32
    users_with_orders: int = 100  # scenario 3: users of 10 orders each, read round-robin
    rebuild_events: int = 100_000
    freshness_rate: float = 300.0  # commands per second
    freshness_seconds: float = 20.0
    # Scenario 6: a small events table and a large one, measured in alternating turns that
    # add up to `seconds` for each; the rebuild whose memory it measures has `rebuild_events`.
    growth_events: tuple[int, int] = (10_000, 1_000_000)
    growth_append_concurrency: tuple[int, ...] = (1, 8)
    growth_turns: int = 5
    feed_page: int = 500  # events per `read_feed_page`, as `read_feed` reads by default


FULL = Sizes(seconds=10.0, warmup_seconds=3.0)
QUICK = Sizes(
    seconds=1.0,
    warmup_seconds=0.3,
    turns=2,
    turn_pause_seconds=0.1,
    users_with_orders=5,
    rebuild_events=1_000,
    freshness_rate=50.0,
    freshness_seconds=2.0,
    growth_events=(1_000, 10_000),
)
