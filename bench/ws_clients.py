"""The web benchmark's browsers: one asyncio process holding every WebSocket (``python -m bench.ws_clients PLAN``).

PLAN (JSON, written by bench/web_city.py and bench/city.py): ``{"base": URL, "out": FILE, "accounts":
[{"username", "password", "clients": [{"id", "area", "watch": [PATH, ...], "base": URL}]}]}`` (a client's
``base``, when given, is the web node it connects to: sessions are shared between web nodes). Each account logs
in once through the real login form (GET /login for the CSRF token, POST it) on ``base``; its clients share
that session as tabs of one browser would. Each client opens ``/ws?area=AREA`` and, on ``hello``, sends
``watch`` as the tile wall does.

Stdout, JSON lines: ``{"event": "ready", ...}`` once every socket has its hello, and at the end (stdin
closed) ``{"event": "done", ...}`` with counts by message type, sockets closed early and errors. Every
``status`` message is one line ``client<TAB>camera<TAB>state<TAB>wall ms when received<TAB>since_ms`` in FILE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from typing import Any, TextIO

import aiohttp

from bench.child_io import emit, plan_main, stdin_reader


async def login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> None:
    html = await (await session.get(f"{base}/login")).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not m:
        raise RuntimeError("no CSRF token on the login form")
    r = await session.post(f"{base}/login", data={"username": username, "password": password,
                                                 "csrf_token": m.group(1)}, allow_redirects=False)
    if r.status != 303:
        raise RuntimeError(f"login of {username} refused: {r.status}")


class Clients:
    def __init__(self, plan: dict[str, Any], out: TextIO) -> None:
        self.plan = plan
        self.out = out
        self.types: Counter[str] = Counter()
        self.errors: list[str] = []
        self.closed_early = 0
        self.hello = 0
        self.total = sum(len(a["clients"]) for a in plan["accounts"])
        self.all_ready = asyncio.Event()
        self.stopping = False

    async def client(self, session: aiohttp.ClientSession, c: dict[str, Any]) -> None:
        base, cid = c.get("base", self.plan["base"]), c["id"]
        try:
            async with session.ws_connect(f"{base}/ws?area={c['area']}", heartbeat=None) as ws:
                async for msg in ws:
                    now = time.time() * 1000
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    m = json.loads(msg.data)
                    kind = m.get("type")
                    self.types[kind] += 1
                    if kind == "status":
                        self.out.write(f"{cid}\t{m['camera']}\t{m['state']}\t{now:.1f}\t{m.get('since_ms')}\n")
                    elif kind == "hello":
                        await ws.send_json({"type": "watch", "cameras": c["watch"]})
                        self.hello += 1
                        if self.hello == self.total:
                            self.all_ready.set()
                    elif kind == "error":
                        self.errors.append(f"{cid}: {m.get('detail')}")
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.errors.append(f"{cid}: {exc!r}")
        if not self.stopping:
            self.closed_early += 1

    async def run(self) -> None:
        stdin = await stdin_reader()
        sessions, tasks = [], []
        sem = asyncio.Semaphore(8)
        t0 = time.monotonic()

        async def account(a: dict[str, Any]) -> None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                            cookie_jar=aiohttp.CookieJar(unsafe=True))
            sessions.append(session)
            async with sem:
                await login(session, self.plan["base"], a["username"], a["password"])
            tasks.extend(asyncio.create_task(self.client(session, c)) for c in a["clients"])

        try:
            await asyncio.gather(*(account(a) for a in self.plan["accounts"]))
            logged_in = time.monotonic() - t0
            await asyncio.wait_for(self.all_ready.wait(), 120)
            emit({"event": "ready", "sockets": self.total, "accounts": len(self.plan["accounts"]),
                   "login_s": round(logged_in, 1), "ready_s": round(time.monotonic() - t0, 1),
                   "t_ms": time.time() * 1000})
            await stdin.read()  # the driver closes our stdin to stop us
        finally:
            self.stopping = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in sessions:
                with contextlib.suppress(Exception):
                    await s.close()
            self.out.flush()
            emit({"event": "done", "types": dict(self.types), "closed_early": self.closed_early,
                   "errors": self.errors[:20], "error_count": len(self.errors)})


async def run(plan: dict[str, Any], out: TextIO) -> None:
    await Clients(plan, out).run()


if __name__ == "__main__":
    raise SystemExit(plan_main(run))
