"""A poison event stops the projection at it, visibly, and an operator resumes it once the
cause is fixed; the stop stays on record."""

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from eventstore.tables import events
from projector.catch_up import catch_up
from projector.storage import read_status
from readmodel.documents import ProjectionState
from tests.conftest import ADMIN_TOKEN, unique_email
from tests.projector.conftest import Stack, settle
from tests.projector.replay import expected_documents, shown

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ORDER = {"product": "Tea", "quantity": 2, "unit_price": "4.50"}


async def test_a_poison_event_stops_the_projection_until_fixed_and_resumed(stack: Stack) -> None:
    user = await stack.writer.post("/users", json={"name": "Ada", "email": unique_email()})
    user_id = user.json()["id"]
    await settle(stack.projection)
    placed = await stack.writer.post(f"/users/{user_id}/orders", json=ORDER)
    order_id = placed.json()["id"]
    after = await stack.writer.post("/users", json={"name": "Bob", "email": unique_email()})
    assert after.status_code == 201

    # Damaged as no command could damage it: the projection cannot apply it.
    async with stack.sessions() as session, session.begin():
        where = (events.c.stream_id == order_id, events.c.version == 1)
        original, event_id = (
            await session.execute(select(events.c.data, events.c.event_id).where(*where))
        ).one()
        await session.execute(update(events).where(*where).values(data={"product": 7}))
    await catch_up(stack.projection)

    stopped = await read_status(stack.db, "main")
    assert stopped.state is ProjectionState.STOPPED
    assert stopped.error is not None
    assert stopped.error.event_id == str(event_id)
    # Its position: in the command's transaction, before the command's last event.
    assert stopped.error.position < placed.headers["Event-Position"]
    assert stopped.error.event_type == "OrderPlaced"
    assert REGISTRY.get_sample_value("projection_stopped", {"projection": "main"}) == 1
    assert await stack.db.users.find_one({"_id": after.json()["id"]}) is None, "not skipped"
    shown_stop = await stack.writer.get("/admin/projections/main", headers=ADMIN)
    assert shown_stop.json()["state"] == "stopped"
    assert shown_stop.json()["error"]["position"] == stopped.error.position

    # Resumed without a fix, it stops at the same event again.
    assert (await stack.writer.post("/admin/projections/main/resume", headers=ADMIN)).is_success
    await catch_up(stack.projection)
    again = await read_status(stack.db, "main")
    assert again.state is ProjectionState.STOPPED
    assert again.error is not None
    assert again.error.position == stopped.error.position

    # Fixed (here: the event restored), then resumed: it goes on from the event it stopped at.
    async with stack.sessions() as session, session.begin():
        await session.execute(update(events).where(*where).values(data=original))
    resumed = await stack.writer.post("/admin/projections/main/resume", headers=ADMIN)
    assert resumed.status_code == 200, resumed.text
    await settle(stack.projection)

    status = await read_status(stack.db, "main")
    assert status.state is ProjectionState.RUNNING
    assert [entry.error.position for entry in status.resumed] == [stopped.error.position] * 2
    assert all(entry.by.startswith("admin:") for entry in status.resumed)
    assert REGISTRY.get_sample_value("projection_stopped", {"projection": "main"}) == 0
    users = await stack.db.users.find().to_list()
    orders = await stack.db.orders.find().to_list()
    assert shown(users, orders) == await expected_documents(stack.sessions)
    not_stopped = await stack.writer.post("/admin/projections/main/resume", headers=ADMIN)
    assert not_stopped.status_code == 409
