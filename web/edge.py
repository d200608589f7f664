"""The HTTP edge both APIs put around their routes, in one order: tokens, problem answers, the
documented schema, then (outermost last) the body cap, CORS and the request context."""

from fastapi import FastAPI

from settings import Settings
from web.auth import TokenRing
from web.cors import install_cors
from web.middleware import BodyLimit, RequestContext
from web.openapi import install_openapi
from web.problems import install_problem_handlers


def install_edge(app: FastAPI, settings: Settings, service: str) -> None:
    """Call after the app's own routes and middleware, which it then wraps."""
    app.state.tokens = TokenRing(
        read=settings.read_tokens, write=settings.write_tokens, admin=settings.admin_tokens
    )
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    install_cors(app, settings.cors_origins)
    app.add_middleware(RequestContext, service=service)
