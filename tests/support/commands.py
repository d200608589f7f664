"""The `find` commands a MongoDB client sent: for tests that count the reads code makes."""

from typing import Any

from pymongo import monitoring


class SentFinds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def of(self, collection: str) -> list[dict[str, Any]]:
        return [command for command in self.sent if command["find"] == collection]
