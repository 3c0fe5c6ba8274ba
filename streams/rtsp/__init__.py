"""A small asyncio RTSP/TCP client: many cameras on one event loop, no thread and no FFmpeg per camera.

Why not FFmpeg's RTSP demuxer (PyAV) for every camera: see docs/ingest.md. This package speaks just what a
camera needs — OPTIONS, DESCRIBE (Basic/Digest auth), SETUP (RTP interleaved over the RTSP TCP connection),
PLAY, keep-alive, TEARDOWN — and turns H.264/H.265 RTP into access units for ``streams.camera.pipeline``.
"""
