"""The HTTP edge both APIs share: problem+json errors, bearer auth, middleware, metrics, logs."""
