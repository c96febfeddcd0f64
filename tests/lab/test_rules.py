"""lab.rules: the barrier decisions shared by the label, the engine and the paper trader."""

from __future__ import annotations

import numpy as np
import pytest

from lab.rules import barrier_touches, stop_gapped, target_beyond_points, target_gapped


@pytest.mark.parametrize("rule, ticks, tick, beyond", [("through", 1, 0.25, 0.25), ("through", 2, 0.25, 0.5),
                                                        ("touch", 3, 0.25, 0.0), ("through", 1, 0.01, 0.01)])
def test_target_beyond_points_is_the_ticks_through_times_the_tick(rule, ticks, tick, beyond):
    assert target_beyond_points(rule, ticks, tick) == pytest.approx(beyond)


def test_target_beyond_points_refuses_an_unknown_rule():
    with pytest.raises(ValueError, match=r"limit_fill = 'queue'; use one of through, touch"):
        target_beyond_points("queue", 1, 0.25)


@pytest.mark.parametrize("side, target, stop", [(1, 4001.5, 3998.0), (-1, 3998.5, 4002.0)])
def test_barrier_touches_fill_the_target_only_a_tick_through_it_under_through(side, target, stop):
    # favourable extremes: at the target, one tick through, short of it
    extremes = np.array([target, target + side * 0.25, target - side * 0.25])
    high = extremes if side > 0 else np.full(3, 4000.0)
    low = np.full(3, 4000.0) if side > 0 else extremes
    touched, stopped = barrier_touches(side, high, low, target, stop, 0.0)
    through, _ = barrier_touches(side, high, low, target, stop, 0.25)
    assert touched.tolist() == [True, True, False] and through.tolist() == [False, True, False]
    assert not stopped.any()


@pytest.mark.parametrize("side", [1, -1])
def test_stops_are_touched_at_their_price_whatever_the_target_rule(side):
    stop = 4000.0 - side * 2.0
    high, low = (4000.0, stop) if side > 0 else (stop, 4000.0)
    for beyond in (0.0, 0.25, 0.5):
        assert barrier_touches(side, high, low, 4000.0 + side * 1.5, stop, beyond)[1]
    assert stop_gapped(side, stop, stop) and not stop_gapped(side, stop + side * 0.25, stop)


@pytest.mark.parametrize("side", [1, -1])
def test_target_gapped_needs_an_open_beyond_the_target_under_through(side):
    target = 4001.5 if side > 0 else 3998.5
    assert target_gapped(side, target, target, 0.0) and not target_gapped(side, target, target, 0.25)
    assert target_gapped(side, target + side * 0.25, target, 0.25)
