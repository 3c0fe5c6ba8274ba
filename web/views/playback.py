"""Playback of recordings in the browser, by stream copy: HLS VOD over the recorded MPEG-TS segments.

- ``GET /api/cameras/{path}/recordings[?day=YYYY-MM-DD]``: one day (site time zone; today by default) of a
  camera: ``{camera, day, timezone, start_ms, end_ms, now_ms, spans: [{start_ms, end_ms}], gaps: [...],
  recorded_ms, segments, disk_full}`` (``cctv.recording.coverage``; ``disk_full``: spans of disk-full node
  alerts that touched the camera, which explain a gap): the camera page's timeline.
- ``GET /camera/{path}/vod.m3u8?start=&end=``: an HLS VOD playlist (``start`` / ``end``: UTC ms, or ISO 8601,
  a time without a zone being in the site's; at most 24 h) of every segment overlapping the range, whole
  (nothing is cut or re-encoded: the player seeks). Each segment carries ``#EXT-X-PROGRAM-DATE-TIME`` (its
  wall-clock start); where recording stopped (a gap longer than ``TOLERANCE_MS``, or a new session) comes
  ``#EXT-X-DISCONTINUITY``. Audited (``recordings.play``: who, camera, range).
- ``GET /camera/{path}/segments/{id}.ts``: one segment file of that camera, with Range support. On a web node
  among many it is streamed from the ingest node that recorded it (web/node_client.py); while that node is
  down: 503 naming it, and the day's ``unavailable`` spans say which recorded parts cannot be played now.

Who: ``Perm.RECORDINGS`` (admins and operators), cameras in scope only (else 404, as for a camera that does
not exist). Technicians never see recordings; police see footage only through approved clips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select

from cctv.accounts.policy import Perm
from cctv.alerts.model import DISK_FULL
from cctv.recording import Segment, coverage
from cctv.store import Store
from cctv.store.segment_models import SegmentRow
from cctv.store.segments import segments
from web.errors import CctvError
from web.i18n import N_, iso_utc, lang_of, ngettext
from web.keys import NODE_CLIENT, TIMEZONE
from web.node_client import NodeClient, NodeUnreachable
from web.views.access import camera_or_404, require, services, tr

CAMERA = "{path:[^/]+/[^/]+/[^/]+/[^/]+}"
MAX_SPAN_MS = 24 * 3600 * 1000 + 60_000  # a day, and the segment that straddles midnight
TOLERANCE_MS = 200  # as cctv.recording.coverage: neighbours closer than this are one recording
MAX_MS = 10**14
MPEGURL = "application/vnd.apple.mpegurl"

routes = web.RouteTableDef()


def hls_playlist(segs: Sequence[Segment], url_of: Callable[[Segment], str]) -> str:
    """An HLS (version 3) VOD playlist of ``segs`` (one camera, oldest first): wall-clock time on every
    segment, a discontinuity wherever the recording does not continue seamlessly."""
    durations = [max(0.001, (s.end_ms - s.start_ms) / 1000) for s in segs]
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(max(durations, default=1)))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    prev: Segment | None = None
    for seg, dur in zip(segs, durations, strict=True):
        if prev is not None and abs(seg.start_ms - prev.end_ms) > TOLERANCE_MS:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso_utc(seg.start_ms)}")
        lines.append(f"#EXTINF:{dur:.3f},")
        lines.append(url_of(seg))
        prev = seg
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _bad(request: web.Request, msgid: str, **fmt: object) -> CctvError:
    """A 400 whose detail is ``msgid`` (marked with N_ where it is written) in the request's language."""
    return CctvError(400, tr(request, "Bad request"), tr(request, msgid, **fmt))


def _time_param(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        raise _bad(request, N_("Parameter %(name)s is required."), name=name)
    if raw.isdigit():
        value = int(raw)
    else:
        try:
            t = datetime.fromisoformat(raw)
        except ValueError:
            raise _bad(request, N_("Parameter %(name)s is not a time: %(value)r (UTC ms or ISO 8601)."), name=name, value=raw[:40]) from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=request.app[TIMEZONE])
        value = round(t.timestamp() * 1000)
    if not 0 <= value <= MAX_MS:
        raise _bad(request, N_("Parameter %(name)s must be between %(lo)s and %(hi)s."), name=name, lo=0, hi=MAX_MS)
    return value


def _day(request: web.Request) -> tuple[str, int, int]:
    tz = request.app[TIMEZONE]
    raw = request.query.get("day", "").strip()
    if raw:
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise _bad(request, N_("%(value)r is not a valid day (YYYY-MM-DD)."), value=raw[:40]) from None
    else:
        d = datetime.fromtimestamp(services(request).clock.now_ms() / 1000, tz).date()
    start = datetime(d.year, d.month, d.day, tzinfo=tz)
    end = start + timedelta(days=1)
    return d.isoformat(), round(start.timestamp() * 1000), round(end.timestamp() * 1000)


@routes.get(f"/api/cameras/{CAMERA}/recordings")
async def recordings_of_day(request: web.Request) -> web.Response:
    require(request, Perm.RECORDINGS)
    cam = camera_or_404(request, request.match_info["path"])
    day, start, end = _day(request)
    svc = services(request)
    segs = await svc.store.aread(segments, svc.store, cam.path, start, end)
    spans, gaps = coverage(segs, start, end)
    now = svc.clock.now_ms()
    full = await svc.store.aread(svc.alerts.touching, cam.path, DISK_FULL, start, end)
    unavailable: list[dict[str, int | str]] = []
    client = request.app.get(NODE_CLIENT)
    if client is not None:  # recorded on a node that is down now: there, but not playable until it is back
        alive = {n: await client.node_url(n) is not None for n in {s.node for s in segs if s.node}}
        unavailable = [{"start_ms": s.start_ms, "end_ms": s.end_ms, "node": s.node} for s in segs
                       if s.node and not alive[s.node]]
    return web.json_response(
        {
            "camera": cam.path,
            "day": day,
            "timezone": request.app[TIMEZONE].key,
            "start_ms": start,
            "end_ms": end,
            "now_ms": now,
            "spans": [{"start_ms": s.start_ms, "end_ms": s.end_ms} for s in spans],
            "gaps": [{"start_ms": g.start_ms, "end_ms": g.end_ms} for g in gaps],
            # the node's disk was full while this camera was among those it stopped: why a gap is there
            "disk_full": [
                {"start_ms": a, "end_ms": b}
                for a, b in ((max(f.opened_ms, start), min(f.closed_ms or now, end)) for f in full)
                if b > a  # an open alert runs to now, not into a day still to come
            ],
            "recorded_ms": sum(s.end_ms - s.start_ms for s in spans),
            "segments": len(segs),
            # many nodes: recorded, on a node that cannot be reached now (never counted as not recorded)
            "unavailable": unavailable,
        }
    )


@routes.get(f"/camera/{CAMERA}/vod.m3u8")
async def vod_playlist(request: web.Request) -> web.Response:
    who = require(request, Perm.RECORDINGS)
    cam = camera_or_404(request, request.match_info["path"])
    start, end = _time_param(request, "start"), _time_param(request, "end")
    if end <= start:
        raise _bad(request, N_("end must be after start."))
    if end - start > MAX_SPAN_MS:
        raise CctvError(400, tr(request, "Bad request"), ngettext(lang_of(request), "At most %(num)s hour per playlist.",
                                                                  "At most %(num)s hours per playlist.", 24))
    svc = services(request)
    segs = await svc.store.aread(segments, svc.store, cam.path, start, end)
    body = hls_playlist(segs, lambda s: f"/camera/{cam.path}/segments/{s.id}.ts")
    await svc.store.awrite(
        svc.audit.append,
        svc.clock.now_ms(),
        who.username,
        "recordings.play",
        cam.path,
        {"start": iso_utc(start), "end": iso_utc(end), "segments": len(segs)},
    )
    return web.Response(text=body, content_type=MPEGURL, headers={"Cache-Control": "private, no-store"})


def segment_node(store: Store, camera: str, segment_id: int) -> tuple[str | None] | None:
    """(node,) of a live segment of ``camera`` (node None: ``cctv run``'s); None for any other id."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(SegmentRow.node).where(
                SegmentRow.id == segment_id, SegmentRow.camera == camera, SegmentRow.garbage.is_(False)
            )
        ).first()
    return (row[0],) if row is not None else None


async def _remote_segment(request: web.Request, client: NodeClient, camera: str, segment_id: int) -> web.StreamResponse:
    svc = services(request)
    found = await svc.store.aread(segment_node, svc.store, camera, segment_id)
    if found is None or found[0] is None:
        raise CctvError(404, tr(request, "Not found"), tr(request, "This recording segment does not exist (any more)."))
    node = found[0]
    unavailable = CctvError(503, tr(request, "Recording unavailable now"), tr(
        request, "This part of the recording is on node %(node)s, which cannot be reached now: it was recorded, "
        "and plays again when the node is back.", node=node))
    try:
        upstream = await client.open_segment(node, segment_id)
    except NodeUnreachable:
        raise unavailable from None
    try:
        if upstream.status == 404:
            raise CctvError(404, tr(request, "Not found"), tr(request, "This recording segment does not exist (any more)."))
        if upstream.status != 200:
            raise unavailable
        resp = web.StreamResponse(headers={"Content-Type": "video/mp2t", "Cache-Control": "private, max-age=3600"})
        if upstream.content_length is not None:
            resp.content_length = upstream.content_length
        await resp.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(1 << 16):
                await resp.write(chunk)
        except (TimeoutError, aiohttp.ClientError):  # the node went away mid-file: the player asks again
            return resp
        await resp.write_eof()
        return resp
    finally:
        upstream.release()


def segment_file(store: Store, camera: str, segment_id: int) -> str | None:
    """The path (under the recordings root) of a live segment of ``camera``; None for any other id."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(SegmentRow.path).where(
                SegmentRow.id == segment_id, SegmentRow.camera == camera, SegmentRow.garbage.is_(False)
            )
        ).scalar()


@routes.get(f"/camera/{CAMERA}/segments/{{id:\\d{{1,18}}}}.ts")
async def segment(request: web.Request) -> web.StreamResponse:
    require(request, Perm.RECORDINGS)
    cam = camera_or_404(request, request.match_info["path"])
    svc = services(request)
    client = request.app.get(NODE_CLIENT)
    if client is not None:  # a web node among many: the file is on the ingest node that recorded it
        return await _remote_segment(request, client, cam.path, int(request.match_info["id"]))
    rel = await svc.store.aread(segment_file, svc.store, cam.path, int(request.match_info["id"]))
    path = Path(svc.exports.recordings) / rel if rel else None
    if path is None or not path.is_file():
        raise CctvError(404, tr(request, "Not found"), tr(request, "This recording segment does not exist (any more)."))
    return web.FileResponse(
        path, headers={"Content-Type": "video/mp2t", "Cache-Control": "private, max-age=3600"}
    )
