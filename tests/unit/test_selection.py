"""A categorical column past ``max_categories`` (core/selection.py): its kept categories are chosen by the
reference's own counts, a bias that does not shrink with the window; measured at baseline time as overdispersion.
Checked on a city-like column (many categories about as frequent as the cut), fresh references and windows: the
false-alarm rate at windows about as large as the reference is within alpha's bounds where it was several times
over; a column that keeps every category has no term."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from driftline.core import thresholds as T
from driftline.core.selection import selection_tau2

KEPT = 200
ALPHA = 0.01  # precise at a few thousand windows


def _cities() -> np.ndarray:
    """2,675 categories like airports' cities: most with one airport, some with two, a few with many."""
    sizes = np.concatenate((np.ones(2_284), np.full(247, 2.0), np.full(100, 4.0), np.full(44, 12.0)))
    return sizes / sizes.sum()


def _rate(p: np.ndarray, m: int, n: int, *, selection: bool, references: int = 12, windows: int = 400) -> float:
    rng = np.random.default_rng([m, n])
    hits = 0
    for _ in range(references):
        ref = rng.multinomial(m, p)
        order = np.lexsort((rng.random(p.size), -ref))  # ties broken as names break them: arbitrarily
        top = order[:KEPT]
        slots = np.append(ref[top], ref.sum() - ref[top].sum()).astype(float)
        null = T.column_null(slots)
        if selection:
            null = replace(null, tau2=null.tau2 + selection_tau2(ref.tolist(), KEPT, seed=3))
        threshold = T.chi2_type_threshold("jensen_shannon", n, null, ALPHA)
        cur = rng.multinomial(n, p, size=windows)
        cur_slots = np.column_stack((cur[:, top], n - cur[:, top].sum(axis=1))).astype(float)
        js = T.metric_scale("jensen_shannon", np.broadcast_to(slots, cur_slots.shape), cur_slots)
        hits += int(np.sum(js > threshold))
    return hits / (references * windows)


def test_kept_categories_chosen_by_the_reference_hold_alpha() -> None:
    p = _cities()
    before = _rate(p, 33_760, 10_000, selection=False)
    after = _rate(p, 33_760, 10_000, selection=True)
    assert before > 3 * ALPHA  # the selection's offset, unmodelled
    assert after <= 2 * ALPHA, (before, after)


def test_no_selection_no_term() -> None:
    counts = np.random.default_rng(0).multinomial(30_000, np.full(150, 1 / 150)).tolist()
    assert selection_tau2(counts, KEPT) == 0.0  # every category kept
    tau = selection_tau2((_cities() * 33_760).round().astype(int).tolist(), KEPT)
    assert tau > 0 and tau == selection_tau2((_cities() * 33_760).round().astype(int).tolist(), KEPT)  # seeded


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_the_term_matters_only_where_windows_near_the_reference(n: int) -> None:
    """phi = 1 + tau2 / ((K - 1) h): small windows (h large) keep their thresholds nearly as they were."""
    tau = selection_tau2((_cities() * 33_760).round().astype(int).tolist(), KEPT)
    h = 1 / n + 1 / 33_760
    phi = 1 + tau / (KEPT * h)
    assert (phi < 1.2) if n == 1_000 else (phi > 1.2), phi


def test_the_baseline_carries_the_term_to_its_segments() -> None:
    """Through the baseline build: a column of 1,000 cities (200 kept) gets the selection term in its null, which
    round-trips and which a segment's null (computed from its reference counts) carries too; a column that keeps
    every category has none."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from driftline.core.autonull import column_null_for
    from driftline.core.config import load_config_dict
    from driftline.services.profiling import build_baseline

    rng = np.random.default_rng(5)
    rows = 20_000
    sizes = np.concatenate((np.ones(800), np.full(150, 3.0), np.full(50, 10.0)))
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(rows)],
            "ts": np.full(rows, 1_767_225_600, dtype=np.int64),
            "pred": rng.integers(0, 2, rows),
            "city": [f"c{v}" for v in rng.choice(sizes.size, rows, p=sizes / sizes.sum())],
            "plan": rng.choice(["a", "b", "c"], rows),
            "x": rng.normal(size=rows),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    config = load_config_dict(
        {
            "model_id": "m1",
            "task": "binary_classification",
            "window": "1h",
            "columns": {
                "id": "id",
                "timestamp": "ts",
                "prediction": "pred",
                "features": {"numerical": ["x"], "categorical": ["city", "plan"]},
                "segments": ["plan"],
            },
        }
    )
    baseline = build_baseline(config, [("ref.parquet", lambda: io.BytesIO(buf.getvalue()))], created_at="t")
    city, plan = baseline.nulls["city"], baseline.nulls["plan"]
    assert city.selection > 0 and city.tau2 >= city.selection
    assert plan.selection == 0
    assert T.ColumnNull.from_dict(city.to_dict()).selection == pytest.approx(city.selection)
    segment = column_null_for(baseline, "city", "plan=a", {})
    assert segment is not None and segment.selection == city.selection and segment.tau2 >= city.selection
