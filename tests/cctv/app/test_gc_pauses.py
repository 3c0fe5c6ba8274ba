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


def test_a_reload_is_frozen_without_a_full_collection() -> None:
    """A roll-up reload's millions of objects are frozen as they are: no full collection walks them first
    (it stopped a city's web node for over a second); only the young generations are collected."""
    pauses = GcPauses()
    pauses.install()
    seen: list[int] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(int(info["generation"]))

    gc.callbacks.append(watch)
    try:
        loaded = [[i] for i in range(50_000)]  # the new load
        pauses.freeze_loaded()
        assert 2 not in seen and seen  # young generations collected, never the oldest
        assert pauses.refreezes == 1 and pauses.frozen == gc.get_freeze_count() >= len(loaded)
    finally:
        gc.callbacks.remove(watch)
        pauses.uninstall()
        gc.unfreeze()
