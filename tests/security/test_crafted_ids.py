"""No route hands out another stream's data through a crafted id: an order's id where a user's
belongs, and the other way round, on both APIs, for reads and for commands.

Users and orders share one id space (UUIDs) and one events table, so a lookup that forgot the
stream's type would answer with the other stream's events or document.
"""

import httpx

from query_api.app import create_app as create_query_app
from tests.conftest import ANY_VERSION, READ_TOKEN, client_for, count_events, unique_email
from tests.projector.conftest import Stack, settle

PRODUCT = "Secret Tea"


def assert_not_found_and_nothing_leaked(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 404, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    for secret in secrets:
        assert secret not in response.text


async def test_an_id_of_the_other_stream_type_is_not_found_anywhere(stack: Stack) -> None:
    email = unique_email("crafted")
    user = await stack.writer.post("/users", json={"name": "Victim", "email": email})
    assert user.status_code == 201, user.text
    user_id = user.json()["id"]
    order = await stack.writer.post(
        f"/users/{user_id}/orders",
        json={"product": PRODUCT, "quantity": 2, "unit_price": "3.50"},
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    await settle(stack.projection)
    secrets = (email, PRODUCT, "Victim")

    query_app = create_query_app(stack.settings)
    async with (
        query_app.router.lifespan_context(query_app),
        client_for(query_app, READ_TOKEN) as query,
    ):
        # The right ids do answer with the data: the refusals below are about the type alone.
        assert email in (await stack.writer.get(f"/users/{user_id}/events")).text
        assert PRODUCT in (await stack.writer.get(f"/orders/{order_id}/events")).text
        assert email in (await query.get(f"/users/{user_id}")).text
        assert PRODUCT in (await query.get(f"/orders/{order_id}")).text

        for path in (f"/users/{order_id}", f"/orders/{user_id}", f"/users/{order_id}/orders"):
            assert_not_found_and_nothing_leaked(await query.get(path), *secrets)
        for path in (f"/users/{order_id}/events", f"/orders/{user_id}/events"):
            assert_not_found_and_nothing_leaked(await stack.writer.get(path), *secrets)

        before = await count_events(stack.sessions)
        commands = [
            ("PUT", f"/users/{order_id}", {"name": "Mallory", "email": unique_email("m")}),
            ("PATCH", f"/users/{order_id}", {"name": "Mallory"}),
            (
                "POST",
                f"/users/{order_id}/orders",
                {"product": "X", "quantity": 1, "unit_price": "1.00"},
            ),
            ("PUT", f"/orders/{user_id}", {"product": "X", "quantity": 1, "unit_price": "1.00"}),
            ("PATCH", f"/orders/{user_id}", {"quantity": 7}),
            ("DELETE", f"/users/{order_id}", None),
            ("DELETE", f"/orders/{user_id}", None),
        ]
        for method, path, body in commands:
            response = await stack.writer.request(method, path, json=body, headers=ANY_VERSION)
            assert_not_found_and_nothing_leaked(response, *secrets)
        assert await count_events(stack.sessions) == before
