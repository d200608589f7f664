from prometheus_client import Counter, Gauge, Histogram

EVENTS_PROJECTED = Counter("projection_events_applied_total", "Events applied", ["projection"])
BATCH_SIZE = Histogram(
    "projection_batch_size",
    "Events per applied batch",
    ["projection"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 5000),
)
BATCH_SECONDS = Histogram(
    "projection_batch_duration_seconds",
    "Time to load, apply and write one batch",
    ["projection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_EVENTS = Gauge("projection_lag_events", "Events after the checkpoint", ["projection"])
LAG_SECONDS = Gauge(
    "projection_lag_seconds", "Age of the oldest event after the checkpoint", ["projection"]
)
STOPPED = Gauge("projection_stopped", "1 while a poison event stops the projection", ["projection"])
RETRIES = Counter(
    "projection_store_retries_total", "Catch-up attempts that hit a store fault", ["projection"]
)
# Guarantee 1 makes the feed wait for the oldest open transaction on the server: these show
# which one the projection is waiting for, and for how long.
FENCE_HELD_SECONDS = Gauge(
    "projection_fence_held_seconds",
    "Age of the oldest open transaction, which holds back what the feed shows",
    ["projection"],
)
FENCE_HOLDER = Gauge(
    "projection_fence_holder_info",
    "1 for the open transaction that holds the feed back (by backend pid and application)",
    ["projection", "pid", "application_name"],
)
