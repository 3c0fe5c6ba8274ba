"""The node's garbage-collector watch: what started is frozen, and collections are counted and timed."""

from __future__ import annotations

import gc

from cctv.app.gc_pauses import GcPauses


def test_collections_are_timed_and_what_started_is_frozen() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        garbage = [[i] for i in range(1000)]
        del garbage
        gc.collect()
        h = pauses.health()["gc"]
        assert h["collections"][2] >= 1 and h["pause_ms_max"][2] >= 0.0
        assert h["pause_ms_total"][2] >= h["pause_ms_max"][2]
        pauses.freeze_started()
        assert pauses.frozen == gc.get_freeze_count() > 0
        assert pauses.health()["gc"]["frozen"] == pauses.frozen
    finally:
        pauses.uninstall()
        gc.unfreeze()
    assert pauses._callback not in gc.callbacks
