"""The one way a service reaches MongoDB."""

from typing import Any

from pymongo import AsyncMongoClient

from settings import Settings

# How long one bulk write of a large batch (a rebuild writes thousands of documents at once)
# may take on a busy server before the projector calls MongoDB down and retries.
BULK_WRITE_SECONDS = 120


def mongo_client(
    settings: Settings, app_name: str, *, bounded: bool = True
) -> AsyncMongoClient[dict[str, Any]]:
    """A client that connects lazily, so building it needs no server (MongoDB down never stops
    a service from starting).

    `bounded`: every operation is limited to `MONGO_TIMEOUT_SECONDS` (`timeoutMS` covers server
    selection, connecting and the answer), so a MongoDB that is down or frozen costs a request
    that long and a 503, not a hang. The projector's bulk writes of large batches may rightly
    take longer: unbounded, only connecting and each socket read are limited.
    """
    timeout_ms = int(settings.mongo_timeout_seconds * 1000)
    limits: dict[str, Any] = (
        {"timeoutMS": timeout_ms, "socketTimeoutMS": timeout_ms}
        if bounded
        else {"socketTimeoutMS": BULK_WRITE_SECONDS * 1000}
    )
    return AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
        appname=app_name,
        **limits,
    )
