"""What the services share: the HTTP edge of both APIs (problem+json errors, bearer auth,
middleware, metrics, logs), the garbage collector's settings and stopping helper tasks."""
