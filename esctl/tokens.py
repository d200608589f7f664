"""Dev-stack tokens: taken from the environment when set, else generated once and kept."""

import json
import os
import secrets
from pathlib import Path

KINDS = ("WRITE_TOKENS", "READ_TOKENS", "ADMIN_TOKENS")


def resolve_tokens(data_dir: Path) -> dict[str, str]:
    """One token of each kind; exports them so that every service started after sees them."""
    path = data_dir / "tokens.json"
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for kind in KINDS:
        if os.environ.get(kind):
            kept[kind] = os.environ[kind].split(",")[0].strip()
        kept.setdefault(kind, secrets.token_urlsafe(24))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2))
    path.chmod(0o600)
    for kind in KINDS:
        os.environ.setdefault(kind, kept[kind])
    return kept
