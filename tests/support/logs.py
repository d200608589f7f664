"""Reading what the services logged: one JSON object per line (`web.logging`)."""

import json
from typing import Any


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
