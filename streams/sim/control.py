"""Client of the simulator's control channel (HTTP on 127.0.0.1, JSON)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

STATES = ("normal", "motion", "frozen", "black", "dark", "blurred", "covered", "moved", "stalled", "offline")


class SimError(Exception):
    """A simulator request failed: unknown camera or state, or the simulator is not reachable."""


class SimControl:
    def __init__(self, host: str = "127.0.0.1", port: int = 8555, timeout: float = 5.0):
        self.base = f"http://{host}:{port}"
        self.timeout = timeout

    def states(self) -> dict[str, str]:
        """Every simulated camera's path and requested state."""
        return self._request("GET", "/cameras")

    def set_state(self, camera_path: str, state: str) -> None:
        """Switch one camera; picture states take effect at its next keyframe (within 2 s)."""
        self._request("POST", "/cameras/" + quote(camera_path.strip("/"), safe="/"), {"state": state})

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                msg = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                msg = exc.reason
            raise SimError(f"simulator refused {method} {path}: {msg}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SimError(f"simulator control channel {self.base} not reachable: {reason}") from None
