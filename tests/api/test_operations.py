"""Health, readiness, metrics and logs of the command API."""

import json

import httpx
import pytest

from tests.conftest import WRITE_TOKEN, unique_email


async def test_health_and_ready_answer_without_a_token(writer: httpx.AsyncClient) -> None:
    anonymous = {"Authorization": ""}
    assert (await writer.get("/health", headers=anonymous)).json() == {"status": "ok"}
    ready = await writer.get("/ready", headers=anonymous)
    assert ready.status_code == 200
    assert ready.json() == {"postgres": "ok", "redis": "ok"}


async def test_metrics_count_requests_by_route_and_events_by_command(
    writer: httpx.AsyncClient,
) -> None:
    created = await writer.post("/users", json={"name": "Ada", "email": unique_email()})
    assert created.status_code == 201
    metrics = (await writer.get("/metrics")).text
    assert (
        'http_requests_total{method="POST",route="/users",service="command_api",status="201"}'
        in metrics
    )
    assert 'events_appended_total{command="register_user"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics
    assert "command_duration_seconds_bucket" in metrics


async def test_request_logs_are_json_with_the_correlation_id_and_no_secret(
    writer: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await writer.post(
        "/users",
        json={"name": "Ada", "email": unique_email()},
        headers={"X-Correlation-ID": "trace-abc-123"},
    )
    await writer.post(
        "/users", json={"name": "Ada"}, headers={"Authorization": "Bearer not-the-real-one"}
    )
    output = capsys.readouterr().out
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "request"]
    assert any(line["correlation_id"] == "trace-abc-123" for line in requests)
    assert {line["status"] for line in requests} >= {201, 401}
    assert WRITE_TOKEN not in output
    assert "not-the-real-one" not in output


async def test_a_malformed_correlation_id_is_replaced_not_echoed(writer: httpx.AsyncClient) -> None:
    response = await writer.get("/health", headers={"X-Correlation-ID": "bad id\twith spaces"})
    echoed = response.headers["x-correlation-id"]
    assert echoed != "bad id\twith spaces"
    assert len(echoed) == 32
