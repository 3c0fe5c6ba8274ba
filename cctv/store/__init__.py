from cctv.store.db import default_url, make_engine, migrate
from cctv.store.store import Interval, Store

__all__ = ["Interval", "Store", "default_url", "make_engine", "migrate"]
