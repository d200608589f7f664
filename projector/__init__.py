"""The arq worker that projects events into MongoDB read documents."""

# The job the command API enqueues after each commit, as a wake-up hint only.
CATCH_UP_JOB = "catch_up"
# The job the command API's admin endpoint enqueues: one rebuild of a projection.
REBUILD_JOB = "rebuild"
