"""The web tests' city and accounts: the config (one camera with a password in its URL), fast password
hashing, the one password of every test account, and logging a client in through the real form."""

from __future__ import annotations

import re
from typing import Any

from cctv.accounts.passwords import Params
from cctv.app.services import Services

WEB_SECRET = "s3cr3t-Pa55"  # the password in one camera's URL: must never reach a response

WEB_CONFIG: dict[str, Any] = {
    "site": {"name": "Kota Jambi", "timezone": "Asia/Jakarta"},
    "kecamatan": [
        {
            "slug": "kota-baru",
            "name": "Kota Baru",
            "kelurahan": [
                {
                    "slug": "paal-lima",
                    "name": "Paal Lima",
                    "rt": [
                        {
                            "slug": "rt-07",
                            "name": "RT 07",
                            "cameras": [
                                {"slug": "cam-1", "name": "Simpang Masjid",
                                 "url": f"rtsp://admin:{WEB_SECRET}@10.0.0.7:554/sub"},
                                {"slug": "cam-2", "name": "Pos Ronda", "url": "rtsp://10.0.0.8:554/sub"},
                            ],
                        },
                        {
                            "slug": "rt-08",
                            "name": "RT 08",
                            "cameras": [{"slug": "cam-1", "name": "Gang Mawar", "url": "rtsp://10.0.0.9/sub"}],
                        },
                    ],
                },
                {
                    "slug": "simpang-tiga-sipin",
                    "name": "Simpang III Sipin",
                    "rt": [
                        {
                            "slug": "rt-01",
                            "name": "RT 01",
                            "cameras": [{"slug": "cam-1", "name": "Lapangan", "url": "rtsp://10.0.1.1/sub"}],
                        }
                    ],
                },
            ],
        },
        {
            "slug": "telanaipura",
            "name": "Telanaipura",
            "kelurahan": [
                {
                    "slug": "pematang-sulur",
                    "name": "Pematang Sulur",
                    "rt": [
                        {
                            "slug": "rt-03",
                            "name": "RT 03",
                            "cameras": [{"slug": "cam-1", "name": "Jembatan", "url": "rtsp://10.0.2.1/sub"}],
                        }
                    ],
                }
            ],
        },
    ],
}


FAST_HASH = Params(log2_n=10, r=8, p=1)  # tests only: the default costs ~30 MiB and ~60 ms per hash
PASSWORD = "correct horse battery"  # every test account's password


async def login(client: Any, username: str, password: str = PASSWORD, *, next_: str = "/",
                headers: dict[str, str] | None = None) -> Any:
    """Log ``client`` in through the real form (GET for the CSRF token, then POST); returns the response."""
    html = await (await client.get("/login", headers=headers)).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the login form"
    return await client.post("/login", data={"username": username, "password": password, "next": next_,
                                             "csrf_token": m.group(1)}, allow_redirects=False, headers=headers)


async def csrf_of(client: Any) -> str:
    """The session's CSRF token, as the page's <meta name="csrf-token"> shows it."""
    html = await (await client.get("/")).text()
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def add_user(svc: Services, name: str, role: str, scopes: list[str], password: str = PASSWORD) -> None:
    svc.accounts.add_user(name, password, role, scopes, svc.clock.now_ms(), svc.sites)

