"""UI text of clip requests, playback and the audit page (merged into ``web.i18n.CATALOGUE``).

Kept apart from the main catalogue so that the evidence pages' many texts do not crowd it; same shape:
key → {"id": Indonesian, "en": English}. ``clips.err.<code>`` are the texts of ``cctv.clips`` refusal codes.
"""

from __future__ import annotations

CLIPS_CATALOGUE: dict[str, dict[str, str]] = {
    "nav.clips": {"id": "Klip bukti", "en": "Evidence clips"},
    "nav.audit": {"id": "Log audit", "en": "Audit log"},
    # list
    "clips.title": {"id": "Permintaan klip bukti", "en": "Evidence clip requests"},
    "clips.intro": {
        "id": "Polisi mengajukan permintaan; operator atau admin yang wilayahnya mencakup semua kamera menyetujui "
        "atau menolak. Setelah disetujui, rekaman dikunci dan klip bertanda tangan dibuat.",
        "en": "Police file a request; an operator or admin whose scope covers every camera approves or rejects it. "
        "Once approved the recordings are locked and a signed clip is made.",
    },
    "clips.new": {"id": "Ajukan permintaan klip", "en": "Request a clip"},
    "clips.none": {"id": "Belum ada permintaan.", "en": "No requests."},
    "clips.apply": {"id": "Terapkan", "en": "Apply"},
    "clips.filter.all": {"id": "Semua", "en": "All"},
    "clips.state": {"id": "Status", "en": "State"},
    "clips.state.open": {"id": "Masih berjalan", "en": "Open"},
    "clips.state.requested": {"id": "Diajukan", "en": "Requested"},
    "clips.state.approved": {"id": "Disetujui", "en": "Approved"},
    "clips.state.rejected": {"id": "Ditolak", "en": "Rejected"},
    "clips.state.exporting": {"id": "Sedang diekspor", "en": "Exporting"},
    "clips.state.ready": {"id": "Siap diunduh", "en": "Ready"},
    "clips.state.closed": {"id": "Ditutup", "en": "Closed"},
    "clips.case_ref": {"id": "Nomor perkara / surat", "en": "Case or letter number"},
    "clips.cameras": {"id": "Kamera", "en": "Cameras"},
    "clips.range": {"id": "Rentang waktu", "en": "Time range"},
    "clips.requester": {"id": "Pemohon", "en": "Requested by"},
    "clips.reason": {"id": "Alasan", "en": "Reason"},
    # form
    "clips.new_intro": {
        "id": "Pilih kamera dan rentang waktu (paling lama 24 jam, sudah lewat). Permintaan ini dicatat di log audit.",
        "en": "Choose the cameras and the time range (at most 24 hours, in the past). The request is recorded in "
        "the audit log.",
    },
    "clips.fix_errors": {"id": "Periksa isian yang ditandai.", "en": "Please correct the marked fields."},
    "clips.no_cameras": {
        "id": "Tidak ada kamera dalam cakupan Anda.",
        "en": "There are no cameras in your scope.",
    },
    "clips.start": {"id": "Mulai", "en": "Start"},
    "clips.end": {"id": "Selesai", "en": "End"},
    "clips.range_hint": {
        "id": "Rekaman satu menit terakhir mungkin belum tersimpan; klip dimulai dari keyframe terakhir sebelum "
        "waktu mulai.",
        "en": "The last minute may not be stored yet; a clip begins at the last keyframe before the start.",
    },
    "clips.submit": {"id": "Ajukan", "en": "Submit request"},
    # detail
    "clips.request": {"id": "Permintaan", "en": "Request"},
    "clips.decided_by": {"id": "Diputuskan oleh", "en": "Decided by"},
    "clips.comment": {"id": "Catatan", "en": "Comment"},
    "clips.closed_by": {"id": "Ditutup oleh", "en": "Closed by"},
    "clips.key": {"id": "Kunci tanda tangan", "en": "Signing key"},
    "clips.key_link": {"id": "kunci publik (PEM)", "en": "public key (PEM)"},
    "clips.last_error": {"id": "Ekspor terakhir gagal", "en": "The last export failed"},
    "clips.place": {"id": "Lokasi", "en": "Place"},
    "clips.recorded": {"id": "Terekam dalam rentang", "en": "Recorded in the range"},
    "clips.gaps": {"id": "{n} celah, {missing} tanpa rekaman", "en": "{n} gap(s), {missing} not recorded"},
    "clips.exporting": {"id": "Ekspor berjalan", "en": "Export in progress"},
    "clips.files": {"id": "Berkas", "en": "Files"},
    "clips.actual": {"id": "Isi klip", "en": "Clip covers"},
    "clips.no_recordings_cam": {
        "id": "Tidak ada rekaman kamera ini dalam rentang.",
        "en": "Nothing of this camera was recorded in the range.",
    },
    "clips.verify_hint": {
        "id": "Periksa keaslian secara luring dengan kunci publik node:",
        "en": "Check authenticity offline with the node's public key:",
    },
    "clips.actions": {"id": "Tindakan", "en": "Actions"},
    "clips.approve": {"id": "Setujui", "en": "Approve"},
    "clips.reject": {"id": "Tolak", "en": "Reject"},
    "clips.approve_hint": {
        "id": "Menyetujui mengunci rekaman dari penghapusan dan memulai ekspor.",
        "en": "Approving locks the recordings against deletion and starts the export.",
    },
    "clips.export": {"id": "Ekspor lagi", "en": "Export again"},
    "clips.close": {"id": "Tutup permintaan", "en": "Close the request"},
    "clips.close_hint": {
        "id": "Melepas kunci rekaman; unduhan berakhir.",
        "en": "Releases the recordings; downloads end.",
    },
    "clips.wait_hint": {
        "id": "Menunggu keputusan atau ekspor.",
        "en": "Waiting for a decision or the export.",
    },
    "clips.history": {"id": "Riwayat (log audit)", "en": "History (audit log)"},
    "clips.conflict": {"id": "Sudah berubah", "en": "Already changed"},
    "clips.audit.clip.request": {"id": "mengajukan", "en": "filed the request"},
    "clips.audit.clip.approve": {"id": "menyetujui", "en": "approved"},
    "clips.audit.clip.reject": {"id": "menolak", "en": "rejected"},
    "clips.audit.clip.export.start": {"id": "memulai ekspor", "en": "started the export"},
    "clips.audit.clip.export": {"id": "ekspor selesai", "en": "export finished"},
    "clips.audit.clip.export.failed": {"id": "ekspor gagal", "en": "export failed"},
    "clips.audit.clip.export.interrupted": {"id": "ekspor terputus", "en": "export interrupted"},
    "clips.audit.clip.download": {"id": "mengunduh", "en": "downloaded"},
    "clips.audit.clip.close": {"id": "menutup", "en": "closed"},
    "clips.audit.clip.denied": {"id": "ditolak aksesnya", "en": "was refused"},
    # refusals (cctv.clips codes)
    "clips.err.unknown_camera": {"id": "Kamera tidak dikenal: {path}", "en": "Unknown camera: {path}"},
    "clips.err.no_camera": {"id": "Pilih paling sedikit satu kamera.", "en": "Choose at least one camera."},
    "clips.err.too_many_cameras": {
        "id": "Paling banyak {n} kamera per permintaan.",
        "en": "At most {n} cameras per request.",
    },
    "clips.err.no_time": {"id": "Isi waktunya.", "en": "Enter the time."},
    "clips.err.bad_time": {
        "id": "Waktu {value!r} tidak valid (contoh 2026-01-01T14:00).",
        "en": "{value!r} is not a valid time (e.g. 2026-01-01T14:00).",
    },
    "clips.err.end_before_start": {
        "id": "Waktu selesai harus setelah waktu mulai.",
        "en": "The end must be after the start.",
    },
    "clips.err.too_long": {
        "id": "Rentang paling lama {hours} jam.",
        "en": "The range may be at most {hours} hours.",
    },
    "clips.err.in_future": {"id": "Waktu selesai belum lewat.", "en": "The end is in the future."},
    "clips.err.required": {"id": "Wajib diisi.", "en": "Required."},
    "clips.err.too_long_text": {"id": "Paling banyak {n} karakter.", "en": "At most {n} characters."},
    "clips.err.not_found": {"id": "Permintaan klip tidak dikenal: {id}", "en": "Unknown clip request: {id}"},
    "clips.err.wrong_state": {
        "id": "Tidak bisa dilakukan: permintaan ini berstatus {state}.",
        "en": "Not possible: this request is {state}.",
    },
    "clips.err.changed": {
        "id": "Permintaan ini baru saja berubah (kini {state}); muat ulang halaman.",
        "en": "This request has just changed (now {state}); reload the page.",
    },
    "clips.err.not_approver": {
        "id": "Hanya operator atau admin yang memutuskan permintaan klip.",
        "en": "Only operators and admins decide clip requests.",
    },
    "clips.err.self_approval": {
        "id": "Pemohon tidak boleh memutuskan permintaannya sendiri.",
        "en": "A requester cannot decide their own request.",
    },
    "clips.err.not_requester": {
        "id": "Hanya pemohon dan admin yang boleh melakukan ini.",
        "en": "Only the requester and admins may do this.",
    },
    "clips.err.not_ready": {
        "id": "Belum bisa diunduh: permintaan ini berstatus {state}.",
        "en": "Not downloadable yet: this request is {state}.",
    },
    "clips.err.no_file": {"id": "Berkas ini tidak ada.", "en": "There is no such file."},
    # playback
    "playback.title": {"id": "Rekaman", "en": "Recordings"},
    "playback.day": {"id": "Tanggal", "en": "Day"},
    "playback.from": {"id": "Dari", "en": "From"},
    "playback.to": {"id": "Sampai", "en": "To"},
    "playback.play": {"id": "Putar", "en": "Play"},
    "playback.click_hint": {"id": "Klik untuk memutar dari titik itu", "en": "Click to play from there"},
    "playback.summary": {
        "id": "Terekam {recorded} pada tanggal ini; {gaps} celah tanpa rekaman.",
        "en": "{recorded} recorded on this day; {gaps} span(s) without recording.",
    },
    "playback.none": {"id": "Tidak ada rekaman pada tanggal ini.", "en": "No recordings on this day."},
    "playback.unsupported": {
        "id": "Peramban ini tidak bisa memutar HLS.",
        "en": "This browser cannot play HLS.",
    },
    "playback.failed": {"id": "Pemutaran gagal.", "en": "Playback failed."},
    "playback.gap": {"id": "Tanpa rekaman", "en": "Not recorded"},
    "playback.recorded": {"id": "Terekam", "en": "Recorded"},
    "playback.disk_full": {"id": "Disk penuh: perekaman berhenti", "en": "Disk full: recording paused"},
    "playback.disk_full_note": {"id": "Garis merah: disk node penuh, kamera ini tidak direkam.",
                                "en": "Red stripes: the node's disk was full, this camera was not recorded."},
    "playback.err.missing": {"id": "Parameter {name} wajib.", "en": "Parameter {name} is required."},
    "playback.err.bad_time": {
        "id": "Parameter {name} bukan waktu: {value!r} (ms UTC atau ISO 8601).",
        "en": "Parameter {name} is not a time: {value!r} (UTC ms or ISO 8601).",
    },
    "playback.err.bad_day": {
        "id": "Tanggal {value!r} tidak valid (YYYY-MM-DD).",
        "en": "{value!r} is not a valid day (YYYY-MM-DD).",
    },
    "playback.err.order": {"id": "end harus setelah start.", "en": "end must be after start."},
    "playback.err.too_long": {
        "id": "Paling lama {hours} jam per daftar putar.",
        "en": "At most {hours} hours per playlist.",
    },
    "playback.err.no_segment": {
        "id": "Segmen rekaman ini tidak ada (lagi).",
        "en": "This recording segment does not exist (any more).",
    },
    # audit page
    "audit.title": {"id": "Log audit", "en": "Audit log"},
    "audit.chain_ok": {
        "id": "Rantai hash utuh: {n} entri terverifikasi.",
        "en": "Hash chain intact: {n} entries verified.",
    },
    "audit.chain_broken": {
        "id": "RANTAI HASH RUSAK mulai entri #{seq}: ada entri yang diubah atau dihapus.",
        "en": "HASH CHAIN BROKEN at entry #{seq}: an entry was edited or deleted.",
    },
    "audit.head": {"id": "Kepala", "en": "Head"},
    "audit.checked": {
        "id": "diperiksa {when} (hasil paling lama 30 detik)",
        "en": "checked {when} (result at most 30 s old)",
    },
    "audit.actor": {"id": "Pelaku", "en": "Actor"},
    "audit.action": {"id": "Tindakan", "en": "Action"},
    "audit.object": {"id": "Objek", "en": "Object"},
    "audit.from": {"id": "Dari tanggal", "en": "From"},
    "audit.to": {"id": "Sampai tanggal", "en": "To"},
    "audit.when": {"id": "Waktu", "en": "When"},
    "audit.detail": {"id": "Rincian", "en": "Detail"},
    "audit.none": {"id": "Tidak ada entri yang cocok.", "en": "No matching entries."},
    "audit.newest": {"id": "Terbaru", "en": "Newest"},
    "audit.older": {"id": "Lebih lama", "en": "Older"},
    "audit.err.city_only": {
        "id": "Log audit mencakup seluruh kota: perlu akun admin tingkat kota.",
        "en": "The audit log covers the whole city: it needs a city-wide admin account.",
    },
    "audit.err.bad_time": {
        "id": "Parameter {name} bukan tanggal: {value!r} (YYYY-MM-DD).",
        "en": "Parameter {name} is not a date: {value!r} (YYYY-MM-DD).",
    },
    "audit.err.order": {"id": "Tanggal 'sampai' harus setelah 'dari'.", "en": "'To' must be after 'from'."},
}
