"""The pure domain: events, commands and the User and Order deciders. No I/O here."""
