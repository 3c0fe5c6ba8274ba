from cctv.store import segment_models  # noqa: F401  (registers the recording tables on Base.metadata)
from cctv.store.db import default_url, make_engine, migrate
from cctv.store.store import Interval, Store

__all__ = ["Interval", "Store", "default_url", "make_engine", "migrate"]
