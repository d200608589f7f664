import json
import logging
from typing import Any

import orjson
import structlog


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stdout, with whatever context (the correlation id) is bound."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=render_json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


def render_json(event: dict[str, Any], **options: Any) -> str:
    """orjson, since both APIs log a line per request: that line took 9% of the query API's
    CPU per `GET /users/{id}`, and orjson took a quarter of it off (bench, issue 6). `json`
    still renders what orjson refuses (an integer past 64 bits): a log line must never fail
    the request that logs it."""
    try:
        return orjson.dumps(
            event, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(event, **options)
