"""The read API: users and orders from the MongoDB read documents the projector writes."""
