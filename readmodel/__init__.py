"""The MongoDB read documents and indexes: the one contract between projector and query API."""
