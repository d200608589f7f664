"""CORS is closed unless configured: only the listed origins get `Access-Control-Allow-Origin`."""

import httpx
import pytest
from fastapi import FastAPI

from command_api.app import create_app as create_command_app
from query_api.app import create_app as create_query_app
from settings import Settings

LISTED = "https://console.example.com"
UNLISTED = "https://evil.example.net"
ALLOW_ORIGIN = "access-control-allow-origin"


def _apps(settings: Settings) -> list[FastAPI]:
    # Never started: a preflight and `/health` touch no store.
    return [create_command_app(settings), create_query_app(settings)]


async def preflight(app: FastAPI, origin: str, method: str = "POST") -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        return await client.options(
            "/users",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )


def test_cors_origins_come_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", f" {LISTED} ,https://other.example.com,")
    assert Settings().cors_origins == {LISTED, "https://other.example.com"}
    monkeypatch.delenv("CORS_ORIGINS")
    assert Settings().cors_origins == frozenset()


@pytest.mark.parametrize("origin", [LISTED, UNLISTED])
async def test_without_configured_origins_no_origin_is_allowed(origin: str) -> None:
    for app in _apps(Settings()):
        response = await preflight(app, origin)
        assert ALLOW_ORIGIN not in response.headers, app.title
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api"
        ) as client:
            simple = await client.get("/health", headers={"Origin": origin})
        assert ALLOW_ORIGIN not in simple.headers, app.title


async def test_a_listed_origin_is_allowed_and_an_unlisted_one_is_not() -> None:
    for app in _apps(Settings(cors_origins=frozenset({LISTED}))):
        allowed = await preflight(app, LISTED)
        assert allowed.status_code == 200, (app.title, allowed.text)
        assert allowed.headers[ALLOW_ORIGIN] == LISTED
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        # Bearer tokens, not cookies: a browser is never told to send credentials.
        assert "access-control-allow-credentials" not in allowed.headers

        refused = await preflight(app, UNLISTED)
        assert ALLOW_ORIGIN not in refused.headers, app.title
        assert UNLISTED not in refused.text

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api"
        ) as client:
            listed = await client.get("/health", headers={"Origin": LISTED})
            unlisted = await client.get("/health", headers={"Origin": UNLISTED})
        assert listed.headers[ALLOW_ORIGIN] == LISTED
        assert "x-correlation-id" in listed.headers["access-control-expose-headers"].lower()
        assert ALLOW_ORIGIN not in unlisted.headers
