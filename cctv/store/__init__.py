from cctv.store import alert_models, clip_models, lease_models, segment_models, tally_models  # noqa: F401  (register their tables on Base.metadata)
from cctv.store.db import default_url, make_engine, migrate
from cctv.store.store import Interval, Store

__all__ = ["Interval", "Store", "default_url", "make_engine", "migrate"]
