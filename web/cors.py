"""CORS, closed unless configured: browsers get no cross-origin access from an unlisted origin.

The callers are services with bearer tokens, not browsers with cookies, so no credentials mode.
"""

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "Min-Position",
    "X-Correlation-ID",
]
_RESPONSE_HEADERS = [
    "ETag",
    "Location",
    "Event-Position",
    "Projection-Position",
    "Idempotent-Replayed",
    "Retry-After",
    "X-Correlation-ID",
]


def install_cors(app: FastAPI, origins: frozenset[str]) -> None:
    """Starlette's CORS middleware with exactly `origins`; nothing at all when there are none."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(origins),
        allow_methods=_METHODS,
        allow_headers=_REQUEST_HEADERS,
        expose_headers=_RESPONSE_HEADERS,
    )
