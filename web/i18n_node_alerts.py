"""UI text of node alerts: the banner on every page and the "system" part of the alert feed (merged into
``web.i18n.CATALOGUE``; same shape: key → {"id": Indonesian, "en": English})."""

from __future__ import annotations

NODE_ALERTS_CATALOGUE: dict[str, dict[str, str]] = {
    "node_alerts.title": {"id": "Peringatan sistem", "en": "System alerts"},
    "node_alerts.camera_title": {"id": "Peringatan kamera", "en": "Camera alerts"},
    "node_alerts.intro": {
        "id": "Keadaan mesin, bukan satu kamera: disk rekaman penuh (perekaman berhenti, pemantauan tetap "
        "berjalan) atau hampir penuh. Hanya yang menyentuh kamera di wilayah Anda.",
        "en": "Conditions of a machine rather than one camera: its recording disk full (recording paused, "
        "monitoring goes on) or nearly full. Only those touching cameras in your area.",
    },
    "node_alerts.kind.disk_full": {"id": "Disk penuh: perekaman berhenti", "en": "Disk full: recording paused"},
    "node_alerts.kind.disk_low": {"id": "Disk rekaman hampir penuh", "en": "Recording disk nearly full"},
    "node_alerts.node": {"id": "Node", "en": "Node"},
    "node_alerts.cameras": {"id": "Kamera terdampak", "en": "Cameras affected"},
    "node_alerts.disk": {"id": "Ruang kosong", "en": "Free space"},
    "node_alerts.free_of": {"id": "{free} dari {total}", "en": "{free} of {total}"},
    "node_alerts.now": {"id": "{n} sekarang", "en": "{n} now"},
    "node_alerts.none": {"id": "Tidak ada peringatan sistem.", "en": "No system alerts."},
    "node_alerts.banner.disk_full": {
        "id": "Perekaman berhenti: disk penuh di node {node} sejak {since}; {n} kamera di wilayah Anda terdampak "
        "(pemantauan tetap berjalan).",
        "en": "Recording paused: disk full on node {node} since {since}; {n} cameras in your area affected "
        "(monitoring goes on).",
    },
    "node_alerts.banner.disk_low": {
        "id": "Disk rekaman hampir penuh di node {node}: sisa {free} dari {total}.",
        "en": "Recording disk nearly full on node {node}: {free} free of {total}.",
    },
    "node_alerts.banner.more": {"id": "Lihat peringatan sistem", "en": "See system alerts"},
    "node_alerts.unknown": {"id": "Peringatan sistem tidak dikenal: {id}", "en": "Unknown system alert: {id}"},
}
