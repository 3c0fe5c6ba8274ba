"""UI text in Bahasa Indonesia (default) and English, and dates in the site's time zone.

``CATALOGUE`` maps a key to its text per language; templates call the ``t('key')`` global, views call
:func:`translate`. The language comes from ``?lang=`` (which also sets the ``lang`` cookie), then the cookie,
then the default, Indonesian.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler

from web.i18n_clips import CLIPS_CATALOGUE
from web.i18n_node_alerts import NODE_ALERTS_CATALOGUE

LANGS = ("id", "en")
DEFAULT_LANG = "id"
COOKIE = "lang"
_REQUEST_KEY = web.RequestKey("lang", str)

CATALOGUE: dict[str, dict[str, str]] = {
    # levels and navigation
    "level.city": {"id": "Kota", "en": "City"},
    "level.kecamatan": {"id": "Kecamatan", "en": "District (kecamatan)"},
    "level.kelurahan": {"id": "Kelurahan", "en": "Sub-district (kelurahan)"},
    "level.rt": {"id": "RT", "en": "Neighbourhood (RT)"},
    "level.camera": {"id": "Kamera", "en": "Camera"},
    "nav.breadcrumbs": {"id": "Lokasi", "en": "Location"},
    "nav.language": {"id": "Bahasa", "en": "Language"},
    "app.title": {"id": "Pemantauan CCTV Kota Tangguh", "en": "Kota Tangguh CCTV monitoring"},
    # live indicator
    "live.on": {"id": "Langsung", "en": "Live"},
    "live.off": {"id": "Terputus — menyambung ulang…", "en": "Disconnected — reconnecting…"},
    # states
    "state.online": {"id": "Aktif", "en": "Online"},
    "state.degraded": {"id": "Terganggu", "en": "Degraded"},
    "state.offline": {"id": "Mati", "en": "Offline"},
    "state.unknown": {"id": "Tidak diketahui", "en": "Unknown"},
    # counts
    "counts.total": {"id": "Kamera", "en": "Cameras"},
    "counts.online": {"id": "Aktif", "en": "Online"},
    "counts.degraded": {"id": "Terganggu", "en": "Degraded"},
    "counts.offline": {"id": "Mati", "en": "Offline"},
    "counts.motion": {"id": "Gerakan kini", "en": "Motion now"},
    "counts.children": {"id": "Wilayah di bawahnya", "en": "Areas beneath"},
    "counts.area": {"id": "Wilayah", "en": "Area"},
    # reasons
    "reason.": {"id": "—", "en": "—"},
    "reason.starting": {"id": "Menunggu data pertama", "en": "Waiting for first data"},
    "reason.refused": {"id": "Koneksi ditolak", "en": "Connection refused"},
    "reason.not_found": {"id": "Alamat stream tidak ada", "en": "Stream path not found"},
    "reason.auth": {"id": "Login kamera gagal", "en": "Camera login failed"},
    "reason.timeout": {"id": "Tidak menjawab (timeout)", "en": "No answer (timeout)"},
    "reason.stalled": {"id": "Stream macet, tidak ada data", "en": "Stream stalled, no data"},
    "reason.eof": {"id": "Stream diakhiri server", "en": "Stream ended by the server"},
    "reason.decode_error": {"id": "Gambar tidak bisa dibaca", "en": "Picture cannot be decoded"},
    "reason.unreachable": {"id": "Jaringan tidak terjangkau", "en": "Network unreachable"},
    "reason.error": {"id": "Kesalahan lain", "en": "Other error"},
    "reason.black": {"id": "Gambar hitam", "en": "Black picture"},
    "reason.frozen": {"id": "Gambar beku", "en": "Frozen picture"},
    "reason.dark": {"id": "Gambar gelap", "en": "Dark picture"},
    "reason.covered": {"id": "Lensa tertutup", "en": "Lens covered"},
    "reason.blurred": {"id": "Gambar kabur", "en": "Blurred picture"},
    "reason.moved": {"id": "Kamera bergeser", "en": "Camera moved"},
    "reason.low_fps": {"id": "FPS rendah", "en": "Low frame rate"},
    # tiles
    "tile.since": {"id": "sejak", "en": "since"},
    "tile.motion": {"id": "Gerakan", "en": "Motion"},
    "tile.no_snapshot": {"id": "Belum ada gambar", "en": "No picture yet"},
    "tile.last_picture": {"id": "Gambar terakhir", "en": "Last picture"},
    "tile.cameras": {"id": "Kamera", "en": "Cameras"},
    "tile.attention_order": {
        "id": "Yang perlu perhatian lebih dulu: mati, dirusak (tertutup, hitam, bergeser), terganggu, gerakan "
              "di malam hari, lalu lainnya.",
        "en": "Needing attention first: offline, tampered (covered, black, moved), degraded, motion at night, "
              "then the rest.",
    },
    "tile.capped_wall": {
        "id": "Menampilkan {shown} dari {total} kamera. Dinding kamera menampilkan semuanya, per halaman.",
        "en": "Showing {shown} of {total} cameras. The tile wall shows them all, page by page.",
    },
    # tile wall
    "wall.title": {"id": "Dinding kamera", "en": "Tile wall"},
    "wall.open": {"id": "Buka dinding kamera", "en": "Open the tile wall"},
    "wall.grid": {"id": "Ukuran", "en": "Grid"},
    "wall.page": {"id": "Halaman", "en": "Page"},
    "wall.prev": {"id": "Halaman sebelumnya", "en": "Previous page"},
    "wall.next": {"id": "Halaman berikutnya", "en": "Next page"},
    "wall.cycle": {"id": "Ganti halaman otomatis", "en": "Auto-cycle pages"},
    "wall.cycle_off": {"id": "mati", "en": "off"},
    "wall.cycle_every": {"id": "tiap {s} detik", "en": "every {s} s"},
    "wall.fullscreen": {"id": "Layar penuh", "en": "Full screen"},
    "wall.exit_fullscreen": {"id": "Keluar layar penuh (Esc)", "en": "Exit full screen (Esc)"},
    "wall.empty": {"id": "Tidak ada kamera di wilayah ini.", "en": "There are no cameras in this area."},
    "wall.cameras": {"id": "{total} kamera", "en": "{total} cameras"},
    # live connection, when retrying cannot help
    "live.gone": {"id": "Wilayah ini tidak ada lagi atau di luar cakupan Anda. Pembaruan langsung berhenti.",
                  "en": "This area no longer exists or is outside your scope. Live updates stopped."},
    "live.logged_out": {"id": "Sesi berakhir. Masuk lagi untuk melanjutkan pembaruan langsung.",
                        "en": "Your session ended. Log in again to resume live updates."},
    "ws.bad_message": {"id": "Pesan WebSocket tidak dikenal ({why}); yang diterima: watch.",
                       "en": "Unknown WebSocket message ({why}); accepted: watch."},
    "ws.bad_watch": {"id": "watch.cameras harus daftar path kamera (paling banyak {n}).",
                     "en": "watch.cameras must be a list of camera paths (at most {n})."},
    "camera.timeline_mixed": {"id": "{n} perubahan status, terburuk: {worst}: {span}",
                              "en": "{n} state changes, worst: {worst}: {span}"},
    # camera page
    "camera.state": {"id": "Status", "en": "State"},
    "camera.reason": {"id": "Penyebab", "en": "Reason"},
    "camera.since": {"id": "Sejak", "en": "Since"},
    "camera.duration": {"id": "Lama", "en": "Duration"},
    "camera.stream": {"id": "Statistik stream", "en": "Stream statistics"},
    "camera.no_stats": {"id": "Belum ada statistik stream.", "en": "No stream statistics yet."},
    "camera.fps": {"id": "FPS", "en": "FPS"},
    "camera.bitrate": {"id": "Bitrate", "en": "Bitrate"},
    "camera.keyframe": {"id": "Jarak keyframe", "en": "Keyframe interval"},
    "camera.resolution": {"id": "Resolusi", "en": "Resolution"},
    "camera.codec": {"id": "Codec", "en": "Codec"},
    "camera.decode": {"id": "Mode decode", "en": "Decode mode"},
    "camera.reconnects": {"id": "Sambung ulang", "en": "Reconnects"},
    "camera.last_packet": {"id": "Paket terakhir", "en": "Last packet"},
    "camera.source": {"id": "Sumber", "en": "Source"},
    "camera.motion": {"id": "Gerakan", "en": "Motion"},
    "camera.motion_yes": {"id": "Ada gerakan", "en": "Motion"},
    "camera.motion_no": {"id": "Tidak ada", "en": "None"},
    "camera.timeline": {"id": "Riwayat status 24 jam", "en": "State history, last 24 h"},
    "camera.intervals": {"id": "Perubahan status terakhir", "en": "Latest state changes"},
    "camera.no_intervals": {"id": "Belum ada riwayat status.", "en": "No state history yet."},
    "camera.start": {"id": "Mulai", "en": "Start"},
    "camera.end": {"id": "Selesai", "en": "End"},
    "camera.ongoing": {"id": "masih berlangsung", "en": "ongoing"},
    "camera.availability": {"id": "Ketersediaan 24 jam", "en": "Availability, last 24 h"},
    "camera.uptime_chart": {"id": "Ketersediaan per hari, 14 hari", "en": "Uptime per day, last 14 days"},
    "camera.uptime_day": {"id": "{day}: tersedia {avail}%, layak pakai {usable}%",
                          "en": "{day}: available {avail}%, usable {usable}%"},
    "camera.motion_events": {"id": "Gerakan, 24 jam terakhir", "en": "Motion events, last 24 h"},
    "camera.no_motion_events": {"id": "Tidak ada gerakan tercatat.", "en": "No motion recorded."},
    "camera.peak": {"id": "Puncak", "en": "Peak"},
    "camera.no_data": {"id": "Tanpa data", "en": "No data"},
    "camera.hours_ago": {"id": "24 jam lalu", "en": "24 h ago"},
    "camera.now": {"id": "sekarang", "en": "now"},
    # errors
    "error.400": {"id": "Permintaan tidak valid", "en": "Bad request"},
    "error.400.detail": {"id": "Parameter permintaan tidak valid.", "en": "The request's parameters are invalid."},
    "error.401": {"id": "Perlu masuk", "en": "Login required"},
    "error.401.detail": {"id": "Silakan masuk terlebih dahulu.", "en": "Please log in first."},
    "error.csrf": {"id": "Token formulir hilang atau salah; muat ulang halaman.",
                   "en": "The form's token is missing or wrong; reload the page."},
    "error.429": {"id": "Terlalu banyak percobaan", "en": "Too many attempts"},
    # login
    "login.title": {"id": "Masuk", "en": "Log in"},
    "login.username": {"id": "Nama pengguna", "en": "Username"},
    "login.password": {"id": "Kata sandi", "en": "Password"},
    "login.submit": {"id": "Masuk", "en": "Log in"},
    "login.failed": {"id": "Nama pengguna atau kata sandi salah.", "en": "Wrong username or password."},
    "login.locked": {"id": "Terlalu banyak percobaan gagal; coba lagi dalam {s} detik.",
                     "en": "Too many failed attempts; try again in {s} seconds."},
    "login.logout": {"id": "Keluar", "en": "Log out"},
    "login.signed_in_as": {"id": "Masuk sebagai", "en": "Signed in as"},
    "error.403": {"id": "Tidak diizinkan", "en": "Forbidden"},
    "error.403.detail": {"id": "Anda tidak berhak melihat ini.", "en": "You may not see this."},
    "error.404": {"id": "Tidak ditemukan", "en": "Not found"},
    "error.404.detail": {"id": "Halaman ini tidak ada.", "en": "There is no such page."},
    "error.405": {"id": "Metode tidak diizinkan", "en": "Method not allowed"},
    "error.405.detail": {"id": "Metode HTTP ini tidak didukung di sini.", "en": "This HTTP method is not supported here."},
    "error.500": {"id": "Kesalahan server", "en": "Server error"},
    "error.500.detail": {
        "id": "Terjadi kesalahan di server. Sudah dicatat; coba lagi sebentar lagi.",
        "en": "Something went wrong on the server. It has been logged; try again shortly.",
    },
    "error.unknown_area": {"id": "Wilayah tidak dikenal: {path}", "en": "Unknown area: {path}"},
    "error.unknown_camera": {"id": "Kamera tidak dikenal: {path}", "en": "Unknown camera: {path}"},
    "error.no_snapshot": {"id": "Belum ada gambar untuk kamera ini.", "en": "No snapshot of this camera yet."},
    "error.bad_int": {
        "id": "Parameter {name} harus bilangan bulat, bukan {value!r}.",
        "en": "Parameter {name} must be an integer, not {value!r}.",
    },
    "error.bad_range": {
        "id": "Parameter {name} harus antara {lo} dan {hi}.",
        "en": "Parameter {name} must be between {lo} and {hi}.",
    },
    "error.bad_order": {
        "id": "until_ms harus lebih besar dari since_ms.",
        "en": "until_ms must be greater than since_ms.",
    },
    "error.back": {"id": "Kembali ke halaman kota", "en": "Back to the city page"},
    # technician dashboard (web/views/tech.py)
    "nav.tech": {"id": "Teknisi", "en": "Technician"},
    "nav.alerts": {"id": "Peringatan", "en": "Alerts"},
    "tech.title": {"id": "Dasbor teknisi", "en": "Technician dashboard"},
    "tech.as_of": {"id": "Per {now}", "en": "As of {now}"},
    "tech.area_page": {"id": "Halaman wilayah", "en": "Area page"},
    "tech.csv": {"id": "Unduh CSV untuk kontraktor", "en": "Download CSV for the contractor"},
    "tech.figures": {"id": "Ketersediaan dan perbaikan", "en": "Availability and repairs"},
    "tech.window": {"id": "Periode", "en": "Window"},
    "tech.window.24h": {"id": "24 jam", "en": "24 h"},
    "tech.window.7d": {"id": "7 hari", "en": "7 d"},
    "tech.window.30d": {"id": "30 hari", "en": "30 d"},
    "tech.avail": {"id": "Ketersediaan", "en": "Availability"},
    "tech.avail.help": {"id": "Bagian waktu terpantau saat stream menyala (aktif atau terganggu).",
                        "en": "Share of the watched time the stream was up (online or degraded)."},
    "tech.usable": {"id": "Kelayakan", "en": "Usability"},
    "tech.usable.help": {"id": "Bagian waktu terpantau saat kamera aktif dan gambarnya baik.",
                         "en": "Share of the watched time the camera was online with a good picture."},
    "tech.outages": {"id": "Gangguan mati", "en": "Outages"},
    "tech.mttr": {"id": "Rata-rata waktu perbaikan", "en": "Mean time to repair"},
    "tech.mttr.help": {"id": "Rata-rata lama gangguan mati yang pulih dalam periode ini.",
                       "en": "Mean duration of the offline outages repaired in the window."},
    "tech.mttr_degraded": {"id": "Rata-rata pemulihan gambar terganggu", "en": "Mean time to repair, degraded"},
    "tech.unknown_note": {
        "id": "Waktu sebelum kamera pertama kali terpantau, atau saat sistem mati, tidak dihitung (bukan aktif, "
              "bukan mati).",
        "en": "Time before a camera was first watched, or while the system was down, is not counted (neither up "
              "nor down).",
    },
    "tech.worst": {"id": "Kamera terburuk (7 hari)", "en": "Worst cameras (7 d)"},
    "tech.chart": {"id": "Ketersediaan per wilayah dari waktu ke waktu", "en": "Availability per area over time"},
    "tech.chart_more": {"id": "{n} wilayah lain tidak digambar; buka wilayahnya.",
                        "en": "{n} more areas not drawn; open them."},
    "tech.cameras": {"id": "Semua kamera", "en": "Every camera"},
    "tech.search": {"id": "Cari", "en": "Search"},
    "tech.apply": {"id": "Terapkan", "en": "Apply"},
    "tech.showing": {"id": "Kamera {shown} dari {total} (dari {all} di wilayah ini).",
                     "en": "Cameras {shown} of {total} ({all} in this area)."},
    "tech.no_cameras": {"id": "Tidak ada kamera yang cocok.", "en": "No camera matches."},
    "tech.page": {"id": "Halaman {page} dari {pages}", "en": "Page {page} of {pages}"},
    "tech.prev": {"id": "Sebelumnya", "en": "Previous"},
    "tech.next": {"id": "Berikutnya", "en": "Next"},
    "tech.outage_list": {"id": "Gangguan 7 hari terakhir", "en": "Outages, last 7 days"},
    "tech.outages_capped": {"id": "Menampilkan {shown} terbaru dari {total}.", "en": "Showing the newest {shown} of {total}."},
    "tech.no_outages": {"id": "Tidak ada gangguan dalam 7 hari terakhir.", "en": "No outages in the last 7 days."},
    "tech.filter.all": {"id": "Semua", "en": "All"},
    "tech.filter.offline": {"id": "Mati", "en": "Offline"},
    "tech.filter.degraded": {"id": "Terganggu", "en": "Degraded"},
    "tech.filter.online": {"id": "Aktif", "en": "Online"},
    "tech.filter.down": {"id": "Mati atau terganggu", "en": "Offline or degraded"},
    "error.bad_choice": {
        "id": "Parameter {name} tidak boleh {value!r}: pilih salah satu dari {allowed}.",
        "en": "Parameter {name} cannot be {value!r}: choose one of {allowed}.",
    },
    # alert feed (web/views/alerts.py)
    "alerts.title": {"id": "Peringatan", "en": "Alerts"},
    "alerts.debounce_note": {
        "id": "Satu peringatan per gangguan: kamera yang naik-turun tetap satu peringatan sampai stabil aktif "
              "selama 5 menit.",
        "en": "One alert per incident: a flapping camera stays one alert until it has been online for 5 minutes.",
    },
    "alerts.only_open": {"id": "Hanya yang terbuka", "en": "Open only"},
    "alerts.only_unacked": {"id": "Belum dikonfirmasi", "en": "Not acknowledged"},
    "alerts.opened": {"id": "Mulai", "en": "Opened"},
    "alerts.status": {"id": "Keadaan", "en": "Status"},
    "alerts.status.open": {"id": "Terbuka", "en": "Open"},
    "alerts.status.recovering": {"id": "Pulih, menunggu stabil", "en": "Back, waiting to be stable"},
    "alerts.status.closed": {"id": "Selesai", "en": "Closed"},
    "alerts.changes": {"id": "Perubahan", "en": "Changes"},
    "alerts.was": {"id": "sempat", "en": "was"},
    "alerts.ack": {"id": "Konfirmasi", "en": "Acknowledged"},
    "alerts.ack_button": {"id": "Konfirmasi", "en": "Acknowledge"},
    "alerts.none": {"id": "Tidak ada peringatan.", "en": "No alerts."},
    "alerts.older": {"id": "Lebih lama", "en": "Older"},
    "alerts.unknown": {"id": "Peringatan tidak dikenal: {id}", "en": "Unknown alert: {id}"},
    "alerts.already_title": {"id": "Sudah dikonfirmasi", "en": "Already acknowledged"},
    "alerts.already": {"id": "Peringatan ini sudah dikonfirmasi oleh {who} pada {when}.",
                       "en": "This alert was already acknowledged by {who} at {when}."},
    "alerts.already_short": {"id": "Peringatan ini baru saja dikonfirmasi orang lain.",
                             "en": "Someone else has just acknowledged this alert."},
}

CATALOGUE.update(CLIPS_CATALOGUE)  # clip requests, playback, audit page: web/i18n_clips.py
CATALOGUE.update(NODE_ALERTS_CATALOGUE)  # disk full / nearly full: web/i18n_node_alerts.py

_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def translate(key: str, lang: str = DEFAULT_LANG, **fmt: object) -> str:
    """The text of ``key`` in ``lang``; an unknown key shows as itself so a gap is visible, not fatal."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**fmt) if fmt else text


def reason_text(state: str, reason: str, lang: str) -> str:
    if state == "online" and not reason:
        return ""
    key = f"reason.{reason}"
    return translate(key, lang) if key in CATALOGUE else reason


def lang_of(request: web.Request) -> str:
    """The request's language: ``?lang=``, then the ``lang`` cookie, then Indonesian."""
    lang = request.get(_REQUEST_KEY)
    if isinstance(lang, str):
        return lang
    for candidate in (request.query.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG


@web.middleware
async def lang_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Remember ``?lang=`` in a cookie (a year) so the choice survives navigation."""
    request[_REQUEST_KEY] = lang_of(request)
    response = await handler(request)
    chosen = request.query.get("lang")
    if chosen in LANGS and not response.prepared:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def format_ms(t_ms: int | None, tz: ZoneInfo, lang: str = DEFAULT_LANG) -> str:
    """Wall-clock milliseconds as "23 Nov 2026 14:05:09 WIB" in the site's time zone."""
    if t_ms is None:
        return "—"
    dt = datetime.fromtimestamp(t_ms / 1000, tz)
    month = _MONTHS.get(lang, _MONTHS[DEFAULT_LANG])[dt.month - 1]
    return f"{dt.day} {month} {dt.year} {dt:%H:%M:%S} {dt.tzname()}"


def iso_utc(t_ms: int | None) -> str | None:
    """Milliseconds as ISO 8601 UTC with a Z, e.g. "2026-01-01T00:00:00.000Z"."""
    if t_ms is None:
        return None
    dt = datetime.fromtimestamp(t_ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}Z"


def format_duration(ms: int) -> str:
    """A compact duration: "45s", "12m 03s", "3h 05m", "2d 4h" (same symbols in both languages)."""
    s = max(0, ms) // 1000
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"
