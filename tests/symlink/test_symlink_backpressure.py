"""Back-pressure per mount (AIMD): the concurrency follows what the mount does."""
from __future__ import annotations

import time

from toolkit.plugins.symlink.engine.activity import MountActivity


def test_a_failed_call_halves_the_concurrency_and_fast_calls_grow_it_back():
    activity = MountActivity(ceiling=8)
    for _ in range(5):
        activity.record(0.01, False)
    assert activity.limit == 8

    activity.record(0.01, True)
    assert activity.limit == 4
    activity.record(0.01, True)  # the same round trip: one halving is enough
    assert activity.limit == 4
    for _ in range(40):
        activity.record(0.01, False)

    assert activity.limit == 8
    figures = activity.figures()
    assert figures["concurrency_lowest"] == 4 and figures["errors"] == 2 and figures["degraded"] is True


def test_a_call_much_slower_than_usual_halves_the_concurrency():
    activity = MountActivity(ceiling=8)
    for _ in range(10):
        activity.record(0.05, False)
    time.sleep(0.06)  # one average round trip since the start

    activity.record(2.0, False)  # 40 times the usual latency: the mount is struggling

    assert activity.limit == 4
    figures = activity.figures()
    assert figures["latency_max_ms"] == 2000.0 and figures["latency_median_ms"] == 50.0
    assert figures["degraded"] is True and figures["errors"] == 0


def test_a_steady_mount_is_not_degraded():
    activity = MountActivity(ceiling=4)
    for _ in range(100):
        activity.record(0.02, False)
    figures = activity.figures()
    assert figures["degraded"] is False and figures["latency_p95_ms"] == 20.0 and activity.limit == 4
