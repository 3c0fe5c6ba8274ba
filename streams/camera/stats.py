"""Packet-level statistics of one camera, from packets alone (no decode). Not thread-safe: owned by a worker."""

from __future__ import annotations

from collections import deque

from cctv.status.messages import StreamStats


class PacketStats:
    """Sliding-window fps and bitrate, keyframe interval, counters."""

    def __init__(self, camera: str, decode_mode: str, window_s: float = 5.0) -> None:
        self.camera = camera
        self.decode_mode = decode_mode
        self.window_s = window_s
        self._window: deque[tuple[float, int]] = deque()  # (monotonic, size_bytes)
        self._window_bytes = 0
        self.packets = 0
        self.keyframes = 0
        self.decoded = 0
        self.drops = 0
        self.reconnects = 0
        self.last_packet_ms: int | None = None
        self.last_packet_mono: float | None = None
        self._last_key_t: float | None = None
        self.keyframe_interval_s: float | None = None
        self.width: int | None = None
        self.height: int | None = None
        self.codec: str | None = None

    def on_packet(self, mono: float, ms: int, size: int, is_keyframe: bool, pts_s: float | None) -> None:
        self.packets += 1
        self.last_packet_ms, self.last_packet_mono = ms, mono
        self._window.append((mono, size))
        self._window_bytes += size
        cutoff = mono - self.window_s
        while self._window and self._window[0][0] < cutoff:
            self._window_bytes -= self._window.popleft()[1]
        if is_keyframe:
            self.keyframes += 1
            t = pts_s if pts_s is not None else mono
            if self._last_key_t is not None and t > self._last_key_t:
                self.keyframe_interval_s = round(t - self._last_key_t, 3)
            self._last_key_t = t

    def on_reconnect(self) -> None:
        self.reconnects += 1
        self._window.clear()
        self._window_bytes = 0
        self._last_key_t = None

    def snapshot(self, mono: float, ms: int) -> StreamStats:
        span = 0.0
        if len(self._window) >= 2:
            span = max(self._window[-1][0] - self._window[0][0], mono - self._window[0][0])
        fps = (len(self._window) - 1) / span if span > 0 else 0.0
        bitrate = self._window_bytes * 8 / span if span > 0 else 0.0
        return StreamStats(
            camera=self.camera,
            t_ms=ms,
            fps=round(fps, 2),
            bitrate_bps=round(bitrate),
            keyframe_interval_s=self.keyframe_interval_s,
            last_packet_ms=self.last_packet_ms,
            reconnects=self.reconnects,
            packets=self.packets,
            keyframes=self.keyframes,
            decoded=self.decoded,
            drops=self.drops,
            width=self.width,
            height=self.height,
            codec=self.codec,
            decode_mode=self.decode_mode,
        )
