class DomainError(Exception):
    """A command the current state does not allow."""


class NotFound(DomainError):
    """The stream the command addresses has no events."""


class Gone(DomainError):
    """The stream the command addresses was deleted (a user) or closed (a cancelled order)."""


class RuleViolation(DomainError):
    """The command conflicts with the aggregate's current state."""
