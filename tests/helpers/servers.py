"""Helpers shared by tests that start real processes: free ports, the RTSP server's availability, logins."""

from __future__ import annotations

import socket
import subprocess
from functools import cache


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


def login_opener(base: str, username: str, password: str, timeout: float = 5):  # type: ignore[no-untyped-def]
    """A urllib opener logged in to a running `cctv run` at ``base`` (cookie jar + the login form's CSRF token).

    Raises OSError while the server is not up, and PermissionError when the login is refused.
    """
    import http.cookiejar
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/login", timeout=timeout) as r:
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())
    if not m:
        raise PermissionError("no CSRF token on the login form")
    data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": m.group(1)})
    try:
        with opener.open(f"{base}/login", data=data.encode(), timeout=timeout) as r:
            if r.url.rstrip("/").endswith("/login"):
                raise PermissionError(f"login as {username} refused")
    except urllib.error.HTTPError as exc:
        raise PermissionError(f"login as {username} refused: {exc.code}") from None
    return opener
