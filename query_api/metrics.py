from prometheus_client import Histogram

MIN_POSITION_WAIT = Histogram(
    "query_min_position_wait_seconds",
    "Time a read with Min-Position waited for the projection, by outcome",
    ["outcome"],
    buckets=(0.001, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
