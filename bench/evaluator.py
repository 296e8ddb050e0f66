"""The evaluator's core cost: merging N per-file profiles of a window and computing every metric of it.

Profiles come from real data (the benchmark's model and baseline, one 5,000-row file profiled once); the
merge runs over N copies, as if a window had received N files; the metrics are then computed for the
population and every segment. Pure core work (no storage): the floor of what one window costs the evaluator.

    python -m bench.evaluator [--sizes 10,100,1000,10000]
"""

from __future__ import annotations

import argparse
import time

from bench import generate as gen
from driftline.core.baseline import Baseline
from driftline.core.config import load_config_file
from driftline.core.metrics import compute_metrics
from driftline.core.profile import Profile, merge_all
from driftline.services.profiling import build_baseline, profile_file


def file_profiles(rows: int = 5_000, seed: int = 42) -> tuple[dict[str | None, Profile], Baseline]:
    """One file's profiles per segment (its first window), against a baseline of another seed."""
    cfg = load_config_file(gen.BENCH_DIR / "config.yaml")
    data_dir = gen.BENCH_DIR / "data"
    ref = gen.ensure(20_000, seed + 1, "parquet", data_dir=data_dir)
    baseline = build_baseline(cfg, [(ref.name, lambda: str(ref))], created_at="bench")
    cur = gen.ensure(rows, seed, "parquet", data_dir=data_dir)
    result = profile_file(str(cur), name=cur.name, config=cfg, baseline=baseline)
    first = min(ws for ws, _ in result.profiles)
    return {seg: p for (ws, seg), p in result.profiles.items() if ws == first}, baseline


def time_window(n: int, profiles: dict[str | None, Profile], baseline: Baseline) -> tuple[float, float, int]:
    """(merge seconds, metrics seconds, metric count) for a window of ``n`` files."""
    cfg = load_config_file(gen.BENCH_DIR / "config.yaml")
    t0 = time.perf_counter()
    merged = {seg: merge_all([p] * n, baseline.baseline_id) for seg, p in profiles.items()}
    t1 = time.perf_counter()
    count = sum(len(compute_metrics(p, baseline, cfg, segment=seg)) for seg, p in merged.items())
    return t1 - t0, time.perf_counter() - t1, count


def cold_thresholds(baseline: Baseline, rows: int) -> dict[str, float]:
    """CPU seconds of the default ``auto`` rules' thresholds of one window of ``rows`` rows in a fresh process state
    (no null cached), per rule: what the first window of a model costs a cold evaluator, once per baseline."""
    from driftline.core import rules as R
    from driftline.core.autonull import column_null_for

    cfg = load_config_file(gen.BENCH_DIR / "config.yaml")
    targets = R.targets(R.default_rules(cfg, {}), [None])
    shares = R.alpha_shares(targets)
    cache: dict = {}  # type: ignore[type-arg]
    out: dict[str, float] = {}
    for t in targets:
        if not t.rule.auto or t.column is None:
            continue
        context = R.AutoContext(
            {(t.column, None): rows}, lambda c, s: column_null_for(baseline, c, s, cache), cfg.false_alarm_rate
        )
        started = time.process_time()
        R.auto_threshold_of(t, context, alpha_scale=shares[t.key])
        out[t.rule.name] = out.get(t.rule.name, 0.0) + time.process_time() - started
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    args = parser.parse_args(argv)
    profiles, baseline = file_profiles()
    print("| files in the window | merge s | metrics s | total s | metrics computed |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        merge_s, metrics_s, count = time_window(n, profiles, baseline)
        print(f"| {n:,} | {merge_s:.3f} | {metrics_s:.3f} | {merge_s + metrics_s:.3f} | {count:,} |")
    print()
    print("| window rows | cold thresholds of the default rules, CPU s (once per baseline and process) |")
    print("|---|---|")
    for rows in (300, 5_000):
        cost = cold_thresholds(baseline, rows)
        print(f"| {rows:,} | " + ", ".join(f"{name} {sec:.2f}" for name, sec in sorted(cost.items())) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
