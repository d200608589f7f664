"""One module per scenario of issue 6, each a `run(context)` that adds figures and ratios."""
