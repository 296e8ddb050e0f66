"""The evaluator's early looks on in-memory fakes: which share of the error budget each judgement is given (what
``auto`` thresholds spend), and what the ticks between looks cost."""

from __future__ import annotations

import pytest

from driftline.cli.demo import CONFIG_YAML, MODEL_ID, encode, generate
from driftline.core import looks as L
from driftline.core import rules as R

from .test_volume import Env

DAY = 86_400
D0 = 1_767_225_600
_ALERTS = CONFIG_YAML.index("alerts:\n")
DAILY = (
    CONFIG_YAML[:_ALERTS].replace("  segments: [country]\n", "").replace("window: 1h", "window: 1d")
    + "alerts:\n  - {name: spend-drift, metric: drift.jensen_shannon, columns: [monthly_spend], above: 0.2}\n"
)


def test_each_look_and_the_close_judge_at_their_share_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env()
    env.drop(f"models/{MODEL_ID}/config.yaml", DAILY.encode())
    ref = generate(3_000, seed=11, start=D0 - 7 * DAY, span=7 * DAY, id_prefix="ref")
    env.drop(f"baselines/{MODEL_ID}/ref.parquet", encode(ref, "parquet"))
    scales: list[tuple[int, float]] = []
    real = R.judge

    def spy(target: R.Target, ws: int, *args: object, alpha_scale: float = 1.0, **kw: object) -> R.Verdict:
        scales.append((ws, alpha_scale))
        return real(target, ws, *args, alpha_scale=alpha_scale, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(R, "judge", spy)
    reads: list[int] = []
    read = env.store.window_profiles
    monkeypatch.setattr(env.store, "window_profiles", lambda m, ws: reads.append(ws) or read(m, ws))
    # Given files of 150 rows every hour of the day, the evaluator ticking each minute after each
    for h in range(20):
        rows = generate(150, seed=h, start=D0 + h * 3600, span=300, id_prefix=f"h{h}").drop_columns(["churned"])
        env.drop(f"predictions/{MODEL_ID}/h{h}.parquet", encode(rows, "parquet"))
        for minute in (1, 2, 3):
            env.evaluate.evaluate(MODEL_ID, at=D0 + h * 3600 + 300 + 60 * minute)
    # Then the open day was looked at when its rows reached 150, 300, 600, 1,200 and 2,400: 5 looks, each judged
    # at its share, and the profiles were read for those looks only (not at every tick, nor at every file)
    assert len(reads) == 5
    looked = [s for ws, s in scales if ws == D0]
    assert looked == pytest.approx([L.look_share(k) for k in range(5)])
    # When the day closes, it is judged whole at what the 5 looks left of the budget
    env.evaluate.evaluate(MODEL_ID, at=D0 + DAY + 60)
    closing = [s for ws, s in scales if ws == D0][5:]
    assert closing == pytest.approx([L.close_share(5)])
    assert sum(looked) + closing[0] == pytest.approx(1.0)
    assert env.store.window_looks(MODEL_ID, D0).looks == 5
