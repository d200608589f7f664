"""The arq worker that projects events into MongoDB read documents."""

# The job the command API enqueues after each commit, as a wake-up hint only.
CATCH_UP_JOB = "catch_up"
