"""The roles, and one kelurahan of the web tests' city (Paal Lima) as an account's scope: what must never show
outside it."""

from __future__ import annotations

SCOPE = "kota-baru/paal-lima"
# names and slugs that exist only outside the scope
OUTSIDE = ("Telanaipura", "telanaipura", "Pematang Sulur", "pematang-sulur", "Simpang III Sipin",
           "simpang-tiga-sipin", "Lapangan", "Jembatan", "rt-01", "rt-03")

ROLES = ("admin", "operator", "technician", "police", "viewer")


def assert_no_leak(body: str, where: str) -> None:
    for word in OUTSIDE:
        assert word not in body, f"{word!r} leaked in {where}"
