from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("events_appended_total", "Events committed", ["command"])
COMMAND_SECONDS = Histogram(
    "command_duration_seconds",
    "Time from loading the streams to committing the events",
    ["command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
CONCURRENCY_CONFLICTS = Counter(
    "command_conflicts_total", "Appends that lost an optimistic-concurrency race", ["command"]
)
WAKEUP_FAILURES = Counter(
    "projector_wakeup_failures_total", "Wake-up jobs that could not be enqueued in Redis"
)
