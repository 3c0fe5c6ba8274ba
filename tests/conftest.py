"""Shared fixtures. Web: ``web_services`` (real Services over tmp_path) and ``web_client`` (a real socket)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.services import Services, make_services
from cctv.store import Store

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


@pytest.fixture
def web_services(tmp_path: Path) -> Iterator[Services]:
    config = Config.model_validate(WEB_CONFIG)
    clock = FakeClock()
    store = Store(f"sqlite:///{tmp_path}/t.sqlite3")
    store.migrate()
    services = make_services(config, clock=clock, store=store, data_dir=tmp_path)
    try:
        yield services
    finally:
        store.close()


@pytest.fixture
async def web_client(aiohttp_client: Any, web_services: Services) -> Any:
    from web.app import create_app

    return await aiohttp_client(create_app(web_services))
