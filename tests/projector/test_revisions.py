"""Every change the projection makes to a document moves its `revision`.

The projector fences its writes by it, and the query API keeps each document's rendered body
under it (`query_api.renderings`): a change that left it where it was would be served stale.
Pure: `apply` on documents in memory, through every kind of event, one at a time.
"""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from domain import order, user
from domain.events import DomainEvent
from eventstore import Position, RecordedEvent
from projector.projection import Workspace, apply
from readmodel.documents import OrderDocument, UserDocument

START = datetime(2026, 1, 1, tzinfo=UTC)


class Feed:
    def __init__(self) -> None:
        self.positions = count(1)
        self.versions: dict[uuid.UUID, int] = {}

    def record(self, stream_id: uuid.UUID, stream_type: str, event: DomainEvent) -> RecordedEvent:
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        n = next(self.positions)
        return RecordedEvent(
            position=Position(100 + n, n),
            stream_id=stream_id,
            stream_type=stream_type,
            version=version,
            event_id=uuid.uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            data=event.to_data(),
            metadata={},
            recorded_at=START + timedelta(seconds=n),
        )


def story() -> list[RecordedEvent]:
    """A user with two orders, through every event the projection applies."""
    feed = Feed()
    ada, tea, jam = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    u, o = user.STREAM_TYPE, order.STREAM_TYPE
    price = Decimal("4.50")

    def placed(order_id: uuid.UUID, product: str) -> list[RecordedEvent]:
        return [
            feed.record(ada, u, user.UserOrderPlaced(order_id=order_id)),
            feed.record(
                order_id,
                o,
                order.OrderPlaced(user_id=ada, product=product, quantity=1, unit_price=price),
            ),
        ]

    return [
        feed.record(ada, u, user.UserRegistered(name="Ada", email="ada@example.com")),
        *placed(tea, "Tea"),
        *placed(jam, "Jam"),
        feed.record(tea, o, order.OrderChanged(product="Tea", quantity=3, unit_price=price)),
        feed.record(ada, u, user.UserNameChanged(name="Ada King")),
        feed.record(ada, u, user.UserEmailChanged(email="ada.king@example.com")),
        feed.record(jam, o, order.OrderCancelled(reason=order.CancellationReason.BY_CLIENT)),
        feed.record(ada, u, user.UserDeleted()),
        feed.record(tea, o, order.OrderCancelled(reason=order.CancellationReason.USER_DELETED)),
    ]


def _contents(workspace: Workspace) -> dict[str, tuple[dict[str, Any], str]]:
    """Each document's fields but its revision, and its revision, by id."""
    documents: list[UserDocument | OrderDocument] = [
        *workspace.users.values(),
        *workspace.orders.values(),
    ]
    return {doc.id: (doc.model_dump(exclude={"revision"}), doc.revision) for doc in documents}


def test_every_change_to_a_document_moves_its_revision() -> None:
    workspace = Workspace()
    changes = 0
    for record in story():
        before = _contents(workspace)

        apply(workspace, record)

        for doc_id, (fields, revision) in _contents(workspace).items():
            if doc_id not in before:
                assert revision == str(record.position)
                continue
            old_fields, old_revision = before[doc_id]
            if fields != old_fields:
                changes += 1
                assert revision != old_revision, f"{record.event_type} changed {doc_id} in place"
                assert revision == str(record.position)
    # Both documents of the user and its orders changed by most events: the story is not empty.
    assert changes >= 12
