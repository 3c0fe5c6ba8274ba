"""Helpers shared by tests that start real processes: free ports, the RTSP server's availability, polling."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@cache
def gst_rtsp_missing() -> str | None:
    """None when Debian's GStreamer RTSP server loads in the system python3, else why not."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import GstRtspServer"
    )
    try:
        r = subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"/usr/bin/python3 unusable: {exc}"
    if r.returncode != 0:
        return "/usr/bin/python3 cannot import gi + GstRtspServer (install python3-gi, gir1.2-gst-rtsp-server-1.0)"
    return None


def wait_for(fn: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``fn`` until it returns something truthy, or fail after ``timeout`` seconds saying ``what``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
