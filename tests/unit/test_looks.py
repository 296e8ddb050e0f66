"""The look schedule of open windows and the error budget spent across looks (core/looks.py), checked by
simulation (bench/early.py) with a fixed seed; the open window's partial points in the store (in-memory table)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from bench.early import simulate
from scipy import stats

from driftline.adapters.memory import MemoryTable
from driftline.core import looks as L
from driftline.core.config import AlertRule, load_config_dict
from driftline.core.metrics import MetricPoint
from driftline.services.store import Store


def test_the_looks_come_at_min_rows_then_at_each_doubling() -> None:
    assert L.look_rows_schedule(1_000, 100) == [100, 200, 400, 800]
    assert L.look_rows_schedule(99, 100) == []
    assert L.next_look_rows(0, 300) == 300
    assert L.next_look_rows(5_500, 100) == 11_000  # a look at whatever rows a tick found, then twice those
    # a 1,000,000-row window is looked at 14 times from 100 rows
    assert len(L.look_rows_schedule(1_000_000, 100)) == 14


@pytest.mark.parametrize("looks", [0, 1, 2, 5, 14, 1_000])
def test_the_shares_of_the_looks_and_of_the_close_add_up_to_the_whole_budget(looks: int) -> None:
    spent = math.fsum(L.look_share(k) for k in range(looks))
    assert math.isclose(spent + L.close_share(looks), 1.0, rel_tol=1e-12)
    assert L.close_share(looks) > L.OPEN_SHARE  # the close always keeps more than half
    assert all(L.look_share(k) > L.look_share(k + 1) > 0 for k in range(looks))
    assert L.close_share(0) == 1.0  # no early look: the close is judged as before


def test_shares_reject_negative_indices() -> None:
    with pytest.raises(ValueError, match="k must be"):
        L.look_share(-1)
    with pytest.raises(ValueError, match="looks must be"):
        L.close_share(-1)


def _far(schedule: str, sims: int = 6_000) -> tuple[int, int]:
    o = simulate(
        shift=0.0,
        alpha=0.05,
        rows=20_000,
        ref_rows=60_000,
        min_rows=100,
        sims=sims,
        seed=3,
        schedule=schedule,
        null_cap=60_000,
    )
    return int(o.alarmed.sum()), sims


def test_looking_again_and_again_keeps_the_false_alarm_rate_within_alpha_and_the_naive_schedule_does_not() -> None:
    # Given windows that do not drift, looked at 8 times as they grow to 20,000 rows, then closed (alpha 0.05)
    spent, n = _far("spent")
    naive, _ = _far("naive")
    # Then with the budget spent across looks the rate is not above alpha (binomial test, one-sided)
    assert stats.binomtest(spent, n, 0.05, alternative="greater").pvalue > 0.01, spent / n
    # while judging every look at alpha multiplies it (what the spending prevents)
    assert naive / n > 3 * 0.05


def test_a_drift_is_caught_early_well_before_the_window_is_whole() -> None:
    o = simulate(shift=0.3, alpha=0.01, rows=100_000, ref_rows=60_000, min_rows=100, sims=400, seed=5, null_cap=60_000)
    assert o.alarmed.mean() == 1.0
    assert float(sorted(o.first_rows)[len(o.first_rows) // 2]) <= 1_600  # median: by 1.6% of the day's rows


def _rule(metric: str, for_windows: int = 1) -> AlertRule:
    return AlertRule("r", metric, None, None, "above", 0.1, for_windows, 100, "warning")


def test_which_rules_are_judged_on_an_open_window() -> None:
    config = load_config_dict(
        {
            "model_id": "m",
            "task": "binary_classification",
            "columns": {"id": "id", "timestamp": "t", "prediction": "p", "features": {"numerical": ["x"]}},
            "window": "1d",
            "business_metrics": [
                {"name": "total", "type": "sum", "column": "x"},
                {"name": "avg", "type": "mean", "column": "x"},
            ],
        }
    )
    judged = {m: L.judged_on_open_window(_rule(m), config) for m in (
        "drift.jensen_shannon", "quality.missing_rate", "performance.accuracy", "estimated.accuracy",
        "volume.rows", "volume.files", "business.total", "business.avg")}  # fmt: skip
    assert judged == {
        "drift.jensen_shannon": True, "quality.missing_rate": True, "performance.accuracy": True,
        "estimated.accuracy": True, "volume.rows": False, "volume.files": False, "business.total": False,
        "business.avg": True}  # fmt: skip
    assert not L.judged_on_open_window(_rule("drift.psi", for_windows=2), config)


def _points(ws: int, n: int, value: float) -> list[MetricPoint]:
    return [MetricPoint("m", "drift.psi", f"c{i}", None, ws, ws + 86_400, value, n, partial=True) for i in range(n)]


def test_partial_points_are_one_packed_item_replaced_at_each_look_and_gone_when_the_window_closes() -> None:
    table = MemoryTable("t")
    store = Store(table, clock=lambda: 1_000.0)
    ws = 1_767_225_600
    # Given a look that wrote 300 partial points
    store.put_partial_points("m", ws, ws + 86_400, _points(ws, 300, 0.5), old_parts=0)
    got = list(store.points("m", start=ws, end=ws + 86_400))
    assert len(got) == 300 and all(p.partial and p.value == 0.5 for p in got)
    (packed,) = [i for i in table.items() if str(i["pk"]).startswith("OPEN#")]  # one item for 300 points
    assert packed["expires_at"] == ws + 3 * 86_400  # two days after the window ends
    # When the next look replaces them
    store.put_partial_points("m", ws, ws + 86_400, _points(ws, 300, 0.25), old_parts=1)
    got = list(store.points("m", start=ws, end=ws + 86_400))
    assert len(got) == 300 and {p.value for p in got} == {0.25}
    assert [p.value for p in store.series("m", "drift.psi", "c7", None, start=ws, end=ws + 86_400)] == [0.25]
    # When the window closes: its points are written as before, and they alone are listed
    store.put_points([MetricPoint("m", "drift.psi", "c7", None, ws, ws + 86_400, 0.125, 900)])
    assert [(p.value, p.partial) for p in store.series("m", "drift.psi", "c7", None, start=ws, end=ws + 86_400)] == [
        (0.125, False)
    ]
    got = list(store.points("m", start=ws, end=ws + 86_400))
    assert [(p.column, p.partial) for p in got] == [("c7", False)]


def test_the_dirty_mark_counts_the_rows_of_an_open_window_and_the_looks_are_recorded() -> None:
    store = Store(MemoryTable("t"), clock=lambda: 1_000.0)
    ws = 1_767_225_600
    assert store.open_window("m", ws).token is None
    store.mark_dirty("m", ws, rows=500)
    store.mark_dirty("m", ws, rows=600)
    ow = store.open_window("m", ws)
    assert (ow.rows, ow.looks, ow.looked_rows) == (1_100, 0, 0) and ow.token
    store.record_look("m", ws, looks=1, looked_rows=1_100, checked=ow.token, parts=1)
    again = store.open_window("m", ws)
    assert (again.rows, again.looks, again.looked_rows, again.checked, again.parts) == (1_100, 1, 1_100, ow.token, 1)
    assert store.window_looks("m", ws).looks == 1


def test_the_chi2_quantile_and_the_noise_level_of_a_binned_distance_agree_with_scipy() -> None:
    for df in (9, 39, 199):
        for tail in (0.05, 1e-3, 1e-6):
            assert L.chi2_quantile(df, tail) == pytest.approx(stats.chi2.isf(tail, df), rel=0.03)
    # JS distance (base 2) of 10 bins at n = 300 against m = 60,000 exceeded 1 time in 1,000 by noise: ~0.12
    js = L.noise_level("drift.jensen_shannon", bins=10, rows=300, ref_rows=60_000, tail=1e-3)
    assert js == pytest.approx(math.sqrt((1 / 300 + 1 / 60_000) * stats.chi2.isf(1e-3, 9) / 8 / math.log(2)), rel=0.01)
    assert L.noise_level("drift.kolmogorov_smirnov", bins=10, rows=300, ref_rows=60_000, tail=1e-3) is None
    # more rows, less noise; more bins, more noise
    levels = [L.noise_level("drift.psi", bins=10, rows=n, ref_rows=60_000, tail=1e-3) for n in (100, 1_000, 10_000)]
    assert levels == sorted(levels, reverse=True)
    assert L.noise_level("drift.hellinger", bins=40, rows=1_000, ref_rows=60_000, tail=1e-3) > L.noise_level(
        "drift.hellinger", bins=10, rows=1_000, ref_rows=60_000, tail=1e-3
    )


def test_the_noise_of_a_share_matches_the_binomial_tail() -> None:
    for p, n in ((0.5, 300), (0.1, 1_000), (0.02, 10_000)):
        noise = L.share_noise(p, rows=n, tail=1e-3)
        # the chance that the share of n rows exceeds p + noise: about the tail (normal approximation of the binomial)
        exceed = stats.binom.sf(math.floor(n * (p + noise)), n, p)
        assert 2e-4 < exceed < 3e-3, (p, n, exceed)
    assert L.share_noise(0.0, rows=100, tail=1e-3) > 0  # kept half a row from 0: a zero share is not noise-free


def test_an_early_look_alarms_only_on_a_margin_clear_of_the_noise_of_the_rows_so_far() -> None:
    from driftline.core.rules import Target, Verdict
    from driftline.services.early import Look, clear_of_noise

    rule = AlertRule("acc", "estimated.accuracy", None, None, "below_baseline_by", 0.05, 1, 100, "warning")
    verdict = Verdict(Target(rule, None, None), 0, True, 0.70, 0.75, 0.80)
    baseline: Any = None  # not read for shares
    # at 100 rows, an accuracy of 0.8 moves by 0.05 one time in ten: no early alarm; at 10,000 rows it alarms
    assert not clear_of_noise(verdict, 100, baseline, Look(0, 100))
    assert clear_of_noise(verdict, 10_000, baseline, Look(3, 10_000))
    # rules the gate knows nothing of are judged as they are
    other = AlertRule("f1", "performance.f1", None, None, "below", 0.5, 1, 100, "warning")
    assert clear_of_noise(Verdict(Target(other, None, None), 0, True, 0.4, 0.5, None), 100, baseline, Look(0, 100))
