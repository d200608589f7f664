"""Local TCP ports: a free one for each embedded server, and whether the APIs' are taken."""

import asyncio
import contextlib
import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on now. Another process could take it before the server binds
    it; the supervisor's restart then shows the clash in the log instead of hiding it."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR as uvicorn binds: a port still in TIME_WAIT from the last run is free.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


async def accepts(port: int, timeout_seconds: float = 1.0) -> bool:
    try:
        async with asyncio.timeout(timeout_seconds):
            _, writer = await asyncio.open_connection(HOST, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
