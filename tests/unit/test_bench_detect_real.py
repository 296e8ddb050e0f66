"""bench.detect_real, tiny: the real code path (build_baseline -> profile_file -> window_points -> rules.judge)
judges the default drift rules on a real data set; a shifted column is caught, the null rate is near alpha."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy import stats

pytest.importorskip("sklearn")

from bench import detect_real as D


@pytest.fixture(scope="module")
def wine() -> D.Data:
    data = D.LOADERS["wine"]()
    assert data is not None
    return data


def test_tiny_run_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(D.LOADERS, "cars", lambda: None)  # a data set whose package is missing is skipped
    out = tmp_path / "detect_real.md"
    argv = ["--datasets", "wine,cars", "--ns", "100", "--column-windows", "280", "--references", "2"]
    assert D.main([*argv, "--alpha2", "0", "--out", str(out)]) == 0
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| wine | 178 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    windows, judged = int(cells[4].replace(",", "")), int(cells[5].replace(",", ""))
    assert windows == 20 and judged == 14 * 20  # 13 numerical + 1 categorical column, every window judged
    assert "Skipped (package not installed): cars." in text
    assert "| cars |" not in text


def test_a_shifted_column_alarms_in_every_window(wine: D.Data) -> None:
    sd = float(np.std(wine.columns["alcohol"]))

    def shift(rows: pa.Table) -> pa.Table:
        i = rows.schema.get_field_index("alcohol")
        return rows.set_column(i, "alcohol", pc.add(rows.column("alcohol"), 0.5 * sd))

    (cell,) = D.run_dataset(wine, (300,), 0.01, 14 * 12, 1, seed=3, values_budget=10**8, transform=shift)
    assert cell.windows == 12
    assert cell.judged["alcohol"] == 12 and cell.alarms["alcohol"] == 12
    assert cell.by_rule[("alcohol", "drift.wasserstein")] == 12  # a mean shift: W1 sees it
    others = cell.total_alarms - cell.alarms["alcohol"]
    assert others <= 3  # the 13 unshifted columns: about 0.01 x 156 false alarms


def test_null_rate_is_near_alpha(wine: D.Data) -> None:
    # at alpha = 0.1 (the highest the config allows) a tiny run has enough alarms to check the path's calibration:
    # the default rules (JS and W1 at alpha/2 each on a numerical column, a union bound) alarm a column in a bit
    # less than alpha of its windows (0.088 with this seed)
    (cell,) = D.run_dataset(wine, (100,), 0.1, 14 * 150, 2, seed=5, values_budget=10**8)
    rate = cell.total_alarms / cell.total_judged
    assert cell.total_judged == 14 * 150
    assert 0.05 < rate < 0.14, rate


def test_clopper_pearson_matches_scipy() -> None:
    for k, n in ((0, 100), (7, 93), (60, 6000), (100, 100)):
        ci = stats.binomtest(k, n).proportion_ci(0.99, method="exact")
        lo, hi = D.clopper_pearson(k, n)
        assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert D.verdict(60, 1000, 0.01) == "**ABOVE 2x α**"
    assert D.verdict(10, 1000, 0.01) == "ok"
    assert D.verdict(0, 10_000, 0.01) == "below α"
