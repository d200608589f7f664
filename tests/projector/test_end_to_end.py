"""The whole path: a command over HTTP, the projector as its own process woken through arq, and
the query API reading what it wrote, with `Min-Position` making each write visible at once."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import READ_TOKEN, client_for, unique_email
from tests.projector.conftest import Stack
from tests.query.conftest import running
from tests.support.projector_process import ProjectorProcess

# Generous: the first wake-up waits for the worker process to start; later ones take
# milliseconds. A projection that never arrives fails the test with a 503, not a hang.
WAIT_SECONDS = 20.0


@pytest.fixture
async def reader(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    projector = ProjectorProcess(stack.settings)
    projector.start()
    settings = stack.settings.model_copy(
        update={"min_position_wait_seconds": WAIT_SECONDS, "mongo_timeout_seconds": 5.0}
    )
    try:
        async with running(settings) as app, client_for(app, READ_TOKEN) as client:
            yield client
    finally:
        projector.stop()


def written(response: httpx.Response, status: int) -> tuple[str, dict[str, str]]:
    """The new stream's id, and the headers that read this write back."""
    assert response.status_code == status, response.text
    return response.json()["id"], {"Min-Position": response.headers["Event-Position"]}


async def test_a_write_reads_back_at_once_and_a_rename_reaches_the_orders(
    stack: Stack, reader: httpx.AsyncClient
) -> None:
    email = unique_email()
    user_id, after = written(
        await stack.writer.post("/users", json={"name": "Ada", "email": email}), 201
    )

    user = await reader.get(f"/users/{user_id}", headers=after)
    assert user.status_code == 200, user.text
    assert user.json()["name"] == "Ada"
    assert user.json()["email"] == email
    assert user.json()["orders"] == []

    order = {"product": "Tea, 250 g", "quantity": 3, "unit_price": "4.50"}
    order_id, _ = written(await stack.writer.post(f"/users/{user_id}/orders", json=order), 201)
    second = {"product": "Scones", "quantity": 1, "unit_price": "2.25"}
    _, after = written(await stack.writer.post(f"/users/{user_id}/orders", json=second), 201)

    user = await reader.get(f"/users/{user_id}", headers=after)
    assert user.status_code == 200, user.text
    assert user.json()["order_count"] == 2
    assert user.json()["total_spent"] == "15.75"
    assert {line["id"] for line in user.json()["orders"]} >= {order_id}

    # The read document carries its stream's version, which is what `If-Match` is checked on.
    version = {"If-Match": f'"{user.json()["version"]}"'}
    renamed = await stack.writer.patch(
        f"/users/{user_id}", json={"name": "Ada Lovelace"}, headers=version
    )
    _, after = written(renamed, 200)

    shown = await reader.get(f"/orders/{order_id}", headers=after)
    assert shown.status_code == 200, shown.text
    assert shown.json()["user_name"] == "Ada Lovelace"
    assert shown.json()["total"] == "13.50"
    listed = await reader.get(f"/users/{user_id}/orders", headers=after)
    assert listed.status_code == 200, listed.text
    assert {item["user_name"] for item in listed.json()["items"]} == {"Ada Lovelace"}
