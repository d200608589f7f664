"""The one settings class every service reads (DESIGN.md, Configuration)."""

from settings.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
