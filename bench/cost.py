"""The monthly AWS cost of monitoring one model, from measured durations, item sizes and request counts.

Every input is a flag whose default is a figure measured by this repository's benchmarks (the source is named
next to it) or a stated assumption; prices are AWS's public on-demand prices in us-east-1 (free tiers left
out). It prints, for 1M, 10M and 100M predictions a day, the cost of each service and the total, beside two
alternatives: SageMaker Model Monitor's hourly data-quality job and a scheduled Evidently job in Lambda.

    python -m bench.cost [--files-per-day 288] [--delayed-labels [--labels-without-time]] [--no-early]

``--delayed-labels``: labels arrive later and are joined by id (services/labels.py); the join's own table follows,
beside the per-prediction id index it replaced.

Early looks at the open window (SPEC §4) are counted in: per look, the window's partial points in one packed item
(its size measured with the store's own packing) and the look record, the profiles read back, the evaluation's
compute; per tick, the two small items read to decide whether a look is due. The line after the table compares
the cost with and without them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

DAYS = 30
# Public prices, us-east-1 (checked 2026-11).
LAMBDA_GB_S = 0.0000166667  # x86
LAMBDA_REQUEST = 0.20 / 1e6
SQS_REQUEST = 0.40 / 1e6
DDB_WRU = 0.625 / 1e6  # on-demand, after the November 2024 price cut
DDB_RRU = 0.125 / 1e6
S3_GET = 0.0004 / 1000
S3_PUT = 0.005 / 1000
S3_GB_MONTH = 0.023
S3_IA_GB_MONTH = 0.0125  # Intelligent-Tiering's infrequent-access tier (after 30 days without a read)
SNS_PUBLISH = 0.50 / 1e6
KMS_KEY_MONTH = 1.00  # the operations topic's customer-managed key
ALARM_MONTH = 0.10  # CloudWatch standard alarm
SAGEMAKER_ML_M5_XLARGE_HOUR = 0.23  # processing instance, Model Monitor's default type
LAMBDA_FULL_VCPU_MB = 1769  # Lambda gives a function one full vCPU at 1,769 MB, a share of one below


@dataclass(frozen=True)
class Inputs:
    """What one model costs per unit of work. Defaults: see ``parse_args``."""

    files_per_day: int
    window_hours: float
    rows_per_s_one_core: float
    ingest_memory_mb: int
    ingest_overhead_s: float
    profile_kb_per_file_window: float
    points_per_window: int
    other_window_wru: float
    evaluate_s_per_run: float
    evaluate_memory_mb: int
    queues: int
    alarms: int
    delayed_labels: bool
    evidently_s_per_million: float
    evidently_gb_per_million: float
    evidently_fixed_s: float
    model_monitor_minutes: float
    early: bool = True
    open_points_kb: float = 18.4
    look_s: float = 0.3
    min_rows: int = 100
    join: JoinInputs = field(default_factory=lambda: JoinInputs())


@dataclass(frozen=True)
class JoinInputs:
    """The label join (services/labels.py). Defaults: measured by ``make load-labels`` (bench/labels_load.py,
    bench/results/labels_load.md: 1M predictions / 200 files, 100k labels / 11 files) or stated assumptions."""

    label_files_per_day: float = 4.0  # assumption
    labels_per_prediction: float = 1.0  # assumption: every prediction is labelled once, eventually
    label_span_days: float = 0.25  # assumption: the 4 label files of a day each cover 6 hours of predictions
    with_event_time: bool = True  # label files carry the prediction's event time (SPEC §1)
    retention_days: int = 90  # template.yaml IdRetentionDays
    # bytes a row in packs (zstd): a prediction pack / a label pack of 347k rows (a file at 100M a day; 24.5 / 16.1 at
    # 5,000 rows, make load-labels)
    prediction_pack_bytes: float = 18.1
    label_pack_bytes: float = 14.6
    # make load-labels, the run's label files (105k labels, 10.8M pack rows read: 20.3 CPU-s) and the two-day
    # label file in a fresh process (66,660 labels, ~170k pack rows: 0.76 CPU-s), solved for the two rates
    label_cpu_s_per_million: float = 6.9  # per million labels: read, hash, dedupe, profile the joined rows
    scan_cpu_s_per_million: float = 1.8  # per million pack rows read: GET, decompress, look up
    prediction_cpu_s_per_million: float = 1.4  # the prediction side per million rows: hash, sort, pack
    prediction_cpu_s_per_file: float = 0.032  # make load-labels: ... and per file (its log and S3 round trips)
    writes_per_file: float = 5.0  # the file's item twice, its log entry, its result (log + file item)
    entry_bytes: float = 150.0  # make load-labels: a log entry and its result as read (31 KB for 211 files)
    file_item_bytes: float = 110.0  # a label file's item (read by every prediction file)


def label_join(inputs: Inputs, predictions_per_day: float) -> dict[str, float]:
    """Dollars a month of the label join, per service, for one model (what --delayed-labels adds)."""
    j, i = inputs.join, inputs
    p_files = i.files_per_day * DAYS
    l_files = j.label_files_per_day * DAYS
    labels_per_day = predictions_per_day * j.labels_per_prediction
    labels_per_file = labels_per_day / j.label_files_per_day
    in_retention = (i.files_per_day + j.label_files_per_day) * j.retention_days  # log entries
    label_files_kept = j.label_files_per_day * j.retention_days
    # A label file reads the packs of the prediction files its labels' windows fall in and of the label files whose
    # labels' windows meet its own (duplicates); without event times, every pack in retention. A prediction file
    # reads the unmatched packs of the label files whose unmatched labels fall in its windows: with event times
    # (labels come days later) about none.
    if j.with_event_time:
        span_files = j.label_span_days * j.label_files_per_day  # label files covering the same days
        gets_l = i.files_per_day * j.label_span_days + span_files
        rows_read = predictions_per_day * j.label_span_days + span_files * labels_per_file
        gets_p = 0.0
    else:
        gets_l = i.files_per_day * j.retention_days + label_files_kept
        rows_read = (predictions_per_day + labels_per_day) * j.retention_days
        gets_p = label_files_kept
    s3 = (p_files + 2 * l_files) * S3_PUT + (l_files * gets_l + p_files * gets_p) * S3_GET
    # Intelligent-Tiering: the first 30 days frequent, then infrequent access (packs are read in their first days);
    # objects under 128 KB are not tiered (always frequent) and pay no monitoring fee
    hot = min(30, j.retention_days)
    storage = 0.0
    for per_day, files_per_day, row_bytes in (
        (predictions_per_day, i.files_per_day, j.prediction_pack_bytes),
        (labels_per_day, j.label_files_per_day, j.label_pack_bytes),
    ):
        gb_month = per_day * row_bytes / 1e9 * j.retention_days  # stored at steady state
        if per_day / files_per_day * row_bytes < 128 * 1024:
            storage += gb_month * S3_GB_MONTH
        else:
            storage += gb_month * (hot * S3_GB_MONTH + (j.retention_days - hot) * S3_IA_GB_MONTH) / j.retention_days
            storage += files_per_day * j.retention_days * 0.0025 / 1000
    # DynamoDB: a label file reads the whole log (strongly consistent: 1 RRU per 4 KB); a prediction file reads the
    # log's last entry, its own item and the label files' items
    rru = l_files * math.ceil(in_retention * j.entry_bytes / 4096) + p_files * (
        2 + math.ceil(label_files_kept * j.file_item_bytes / 4096)
    )
    wru = (p_files + l_files) * j.writes_per_file
    share = min(1.0, i.ingest_memory_mb / LAMBDA_FULL_VCPU_MB)
    label_file_cpu = (labels_per_file * j.label_cpu_s_per_million + rows_read * j.scan_cpu_s_per_million) / 1e6
    cpu_s = (
        predictions_per_day * DAYS / 1e6 * j.prediction_cpu_s_per_million
        + p_files * j.prediction_cpu_s_per_file
        + l_files * label_file_cpu
    )
    lam = cpu_s / share * i.ingest_memory_mb / 1024 * LAMBDA_GB_S + l_files * LAMBDA_REQUEST
    return {
        "Lambda": lam,
        "DynamoDB": wru * DDB_WRU + rru * DDB_RRU,
        "S3 requests": s3,
        "S3 storage": storage,
        "label file, s at the function's CPU share": label_file_cpu / share,
    }


def id_index(predictions_per_day: float) -> float:
    """What the per-prediction id index cost (before services/labels.py): an item written per prediction, read and
    claimed per label."""
    return predictions_per_day * DAYS * (2 * DDB_WRU + DDB_RRU)


def monthly(inputs: Inputs, predictions_per_day: float) -> dict[str, float]:
    """Dollars a month per service for one model."""
    i = inputs
    files = i.files_per_day * DAYS
    rows_per_file = predictions_per_day / i.files_per_day
    share = min(1.0, i.ingest_memory_mb / LAMBDA_FULL_VCPU_MB)
    ingest_s = i.ingest_overhead_s + rows_per_file / (i.rows_per_s_one_core * share)
    windows = DAYS * 24 / i.window_hours
    # the evaluator runs each minute and evaluates a window once it has ended (again only if late files come)
    runs = windows
    lambda_cost = (
        files * ingest_s * i.ingest_memory_mb / 1024 + (DAYS * 1440) * 0.05 * i.evaluate_memory_mb / 1024
    ) * LAMBDA_GB_S + runs * i.evaluate_s_per_run * i.evaluate_memory_mb / 1024 * LAMBDA_GB_S
    lambda_cost += (files + DAYS * 1440) * LAMBDA_REQUEST
    sqs = 3 * files * SQS_REQUEST  # the notification, the receive and the delete of each file
    profile_wru = math.ceil(i.profile_kb_per_file_window)
    # per file: its profile item(s) written and, once rolled up, deleted (both cost by size), claim, done, dirty
    file_wru = files * (2 * profile_wru + 3)
    # per evaluation: every point (table + its GSI entry), the rollup, the alert states, dirty mark and state
    eval_wru = runs * (2 * i.points_per_window + i.other_window_wru)
    # per evaluation: the window's items read back (strongly consistent: 1 RRU per 4 KB)
    eval_rru = runs * math.ceil((profile_wru * 2) / 4) + DAYS * 1440 * 2
    if i.early:
        looks, read_files = looks_per_window(rows_per_file, i.files_per_day * i.window_hours / 24, i.min_rows)
        # per look: the packed partial points + the look record (one update); the profiles of the files so far read
        # back (strongly consistent); its evaluation. Per tick: the open window's mark and look record (two small
        # items); per closed window: its look record.
        eval_wru += windows * looks * (math.ceil(i.open_points_kb) + 1)
        eval_rru += windows * (read_files * math.ceil(i.profile_kb_per_file_window / 4) + 1) + DAYS * 1440 * 2
        lambda_cost += windows * looks * i.look_s * i.evaluate_memory_mb / 1024 * LAMBDA_GB_S
    dynamodb = (file_wru + eval_wru) * DDB_WRU + eval_rru * DDB_RRU
    s3 = files * 3 * S3_GET  # the reader's GETs (ranged for Parquet: footer + row groups)
    out = {"Lambda": lambda_cost, "SQS": sqs, "DynamoDB": dynamodb, "S3 requests": s3, "SNS": 100 * SNS_PUBLISH}
    if i.delayed_labels:  # the label join's requests, storage and CPU; the label files' SQS messages
        join = label_join(i, predictions_per_day)
        for service in ("Lambda", "DynamoDB", "S3 requests"):
            out[service] += join[service]
        out["S3 storage"] = join["S3 storage"]
        out["SQS"] += 3 * i.join.label_files_per_day * DAYS * SQS_REQUEST
    return out


def looks_per_window(rows_per_file: float, files_per_window: float, min_rows: int) -> tuple[int, int]:
    """(looks, file profiles read at them) of one open window whose files come one per evaluator tick or slower:
    a look at the first tick where the rows so far reach the next look point of ``driftline.core.looks``."""
    from driftline.core.looks import next_look_rows

    looks = read = 0
    looked = 0
    for j in range(1, max(1, round(files_per_window)) + 1):
        rows = int(j * rows_per_file)
        if rows >= next_look_rows(looked, min_rows):
            looks, read, looked = looks + 1, read + j, rows
    return looks, read


def measure_open_points_kb(points: int = 1140) -> float:
    """The KB of one open window's packed partial points, written by the store itself (in memory): ``points``
    points over 8 column metrics × 24 columns × 6 segments, full-precision random values (compress the worst)."""
    import numpy as np

    from driftline.adapters.memory import MemoryTable
    from driftline.core.metrics import MetricPoint
    from driftline.services.store import Store

    rng = np.random.default_rng(0)
    names = ("quality.missing_rate", "quality.out_of_range_rate", "quality.type_error_rate", "drift.psi",
             "drift.jensen_shannon", "drift.hellinger", "drift.kolmogorov_smirnov", "drift.wasserstein")  # fmt: skip
    segs = [None, *(f"country={c}" for c in ("US", "DE", "FR", "BR", "IN"))]
    combos = [(m, f"column_{c:02d}", s) for s in segs for c in range(24) for m in names][:points]
    ws = 1_767_225_600
    pts = [
        MetricPoint("m", m, c, s, ws, ws + 3600, float(rng.random()), int(rng.integers(100, 50_000)), partial=True)
        for m, c, s in combos
    ]
    table = MemoryTable("cost")
    Store(table).put_partial_points("m", ws, ws + 3600, pts, old_parts=0)
    return sum(len(bytes(i["data"])) for i in table.items()) / 1024


def per_stack(inputs: Inputs) -> float:
    """What a deployment costs whatever its models: the Lambda pollers' long polls on the idle queues (5 pollers
    per queue, one 20 s poll each), the operations topic's KMS key, the CloudWatch alarms."""
    idle_polls = inputs.queues * 5 * 3 * 60 * 24 * DAYS
    return idle_polls * SQS_REQUEST + KMS_KEY_MONTH + inputs.alarms * ALARM_MONTH


def model_monitor(inputs: Inputs, predictions_per_day: float) -> float:
    """SageMaker Model Monitor: one hourly data-quality job on an ml.m5.xlarge, billed for its run time (an
    assumed constant: start-up dominates at these volumes), plus one model-quality job when labels come later."""
    jobs = 2 if inputs.delayed_labels else 1
    return jobs * 24 * DAYS * inputs.model_monitor_minutes / 60 * SAGEMAKER_ML_M5_XLARGE_HOUR


def evidently_lambda(inputs: Inputs, predictions_per_day: float) -> tuple[float, float, float]:
    """An hourly Lambda running Evidently's DataDriftPreset on the hour's rows: (dollars, seconds, GB)."""
    millions = predictions_per_day / 24 / 1e6
    seconds = inputs.evidently_fixed_s + inputs.evidently_s_per_million * millions
    gb = max(1.0, inputs.evidently_gb_per_million * millions + 0.5)
    return 24 * DAYS * seconds * gb * LAMBDA_GB_S, seconds, gb


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files-per-day", type=int, default=288, help="log files a day (assumption: one per 5 min)")
    p.add_argument("--window-hours", type=float, default=1.0)
    p.add_argument("--rows-per-s", type=float, default=480_000, help="make bench: Parquet, one core")
    p.add_argument("--ingest-memory-mb", type=int, default=1024, help="template.yaml FunctionMemory")
    p.add_argument(
        "--ingest-overhead-s", type=float, default=0.25, help="per file beyond profiling (assumption: S3 + DynamoDB)"
    )
    p.add_argument("--profile-kb", type=float, default=16.7, help="make load: profile KB per file and window")
    p.add_argument("--points", type=int, default=1140, help="make load: metric points per window")
    p.add_argument(
        "--other-window-wru",
        type=float,
        default=187,
        help="make load: rollup, alert states, marks per window (142 measured; +45: the W1 default rule's alert state "
        "on its 15 numerical features, 3 write units each at 96 verdicts)",
    )
    p.add_argument("--evaluate-s", type=float, default=1.83, help="make load: evaluator s per window (on moto)")
    p.add_argument("--evaluate-memory-mb", type=int, default=1024)
    p.add_argument("--delayed-labels", action="store_true", help="labels arrive later: the label join runs")
    p.add_argument("--label-files-per-day", type=float, default=4.0, help="assumption")
    p.add_argument("--labels-without-time", action="store_true", help="label files without the event-time column")
    p.add_argument("--label-cpu-s", type=float, default=JoinInputs.label_cpu_s_per_million, help="make load-labels")
    p.add_argument("--scan-cpu-s", type=float, default=JoinInputs.scan_cpu_s_per_million, help="make load-labels")
    p.add_argument(
        "--prediction-join-cpu-s", type=float, default=JoinInputs.prediction_cpu_s_per_million, help="make load-labels"
    )
    p.add_argument("--no-early", dest="early", action="store_false", help="leave out early looks at open windows")
    p.add_argument("--open-points-kb", type=float, default=None, help="packed partial points KB (default: measured)")
    p.add_argument("--min-rows", type=int, default=100, help="the rules' min_rows: the first look")
    p.add_argument(
        "--look-s",
        type=float,
        default=0.3,
        help="evaluator s per look: a window's metrics 0.14-0.18 s (bench.evaluator) + its read and one packed write",
    )
    p.add_argument("--evidently-s-per-million", type=float, default=65.2, help="make bench-peers: compute s / 1M")
    p.add_argument("--evidently-gb-per-million", type=float, default=1.6, help="make bench-peers: peak GB / 1M")
    p.add_argument("--evidently-fixed-s", type=float, default=9.0, help="make bench-peers: start + import s")
    p.add_argument(
        "--model-monitor-minutes", type=float, default=10.0, help="assumption: billed minutes of one hourly job"
    )
    return p.parse_args(argv)


def inputs_of(args: argparse.Namespace) -> Inputs:
    return Inputs(
        files_per_day=args.files_per_day,
        window_hours=args.window_hours,
        rows_per_s_one_core=args.rows_per_s,
        ingest_memory_mb=args.ingest_memory_mb,
        ingest_overhead_s=args.ingest_overhead_s,
        profile_kb_per_file_window=args.profile_kb,
        points_per_window=args.points,
        other_window_wru=args.other_window_wru,
        evaluate_s_per_run=args.evaluate_s,
        evaluate_memory_mb=args.evaluate_memory_mb,
        queues=4,
        alarms=6,
        delayed_labels=args.delayed_labels,
        evidently_s_per_million=args.evidently_s_per_million,
        evidently_gb_per_million=args.evidently_gb_per_million,
        evidently_fixed_s=args.evidently_fixed_s,
        model_monitor_minutes=args.model_monitor_minutes,
        early=args.early,
        open_points_kb=measure_open_points_kb(args.points) if args.open_points_kb is None else args.open_points_kb,
        min_rows=args.min_rows,
        look_s=args.look_s,
        join=JoinInputs(
            label_files_per_day=args.label_files_per_day,
            with_event_time=not args.labels_without_time,
            label_cpu_s_per_million=args.label_cpu_s,
            scan_cpu_s_per_million=args.scan_cpu_s,
            prediction_cpu_s_per_million=args.prediction_join_cpu_s,
        ),
    )


def table(inputs: Inputs, volumes: tuple[float, ...] = (1e6, 10e6, 100e6)) -> list[str]:
    costs = [monthly(inputs, v) for v in volumes]
    head = "| $ / month, one model | " + " | ".join(f"{v / 1e6:,.0f}M predictions/day" for v in volumes) + " |"
    lines = [head, "|---" * (len(volumes) + 1) + "|"]
    for service in costs[0]:
        lines.append(f"| {service} | " + " | ".join(f"{c[service]:,.2f}" for c in costs) + " |")
    lines.append("| **Driftline, per model** | " + " | ".join(f"**{sum(c.values()):,.2f}**" for c in costs) + " |")
    stack = per_stack(inputs)
    lines.append(
        "| Driftline, per stack (shared by its models: idle SQS polls, KMS key, alarms) | "
        + " | ".join(f"{stack:,.2f}" for _ in volumes)
        + " |"
    )
    lines.append(
        "| SageMaker Model Monitor (hourly data-quality job) | "
        + " | ".join(f"{model_monitor(inputs, v):,.2f}" for v in volumes)
        + " |"
    )
    cells = []
    for v in volumes:
        dollars, seconds, gb = evidently_lambda(inputs, v)
        note = " (over Lambda's 15 min)" if seconds > 900 else ""
        cells.append(f"{dollars:,.2f} ({seconds:,.0f} s at {gb:,.1f} GB{note})")
    lines.append("| Evidently in Lambda, hourly | " + " | ".join(cells) + " |")
    if inputs.delayed_labels:
        lines += ["", *join_table(inputs, volumes)]
    return lines


def join_table(inputs: Inputs, volumes: tuple[float, ...]) -> list[str]:
    """The label join alone, per million predictions, beside the per-prediction id index it replaced."""
    joins = [label_join(inputs, v) for v in volumes]
    head = "| the label join, $ / month | " + " | ".join(f"{v / 1e6:,.0f}M predictions/day" for v in volumes) + " |"
    lines = [head, "|---" * (len(volumes) + 1) + "|"]
    for service in ("Lambda", "DynamoDB", "S3 requests", "S3 storage"):
        lines.append(f"| {service} | " + " | ".join(f"{j[service]:,.2f}" for j in joins) + " |")
    totals = [sum(j[s] for s in ("Lambda", "DynamoDB", "S3 requests", "S3 storage")) for j in joins]
    lines.append("| **the join, per model** | " + " | ".join(f"**{t:,.2f}**" for t in totals) + " |")
    per_m = [t / (v * DAYS / 1e6) for t, v in zip(totals, volumes, strict=True)]
    lines.append("| the join, per million predictions | " + " | ".join(f"{c:,.4f}" for c in per_m) + " |")
    secs = [j["label file, s at the function's CPU share"] for j in joins]
    lines.append(
        "| one label file's time at the function's CPU share | "
        + " | ".join(f"{s:,.0f} s" + (" (over Lambda's 15 min)" if s > 900 else "") for s in secs)
        + " |"
    )
    lines.append(
        "| the per-prediction id index it replaced (DynamoDB) | "
        + " | ".join(f"{id_index(v):,.2f}" for v in volumes)
        + " |"
    )
    return lines


# -- scaling out: the evaluate queue, leases, window merges (README "Scaling out") --------------------------------

TICKS = DAYS * 1440  # the evaluator's schedule: rate(1 minute)
MERGE_EVERY = 64  # driftline.services.merge.MERGE_EVERY
JUDGE_BATCH = 10  # template.yaml: JudgeFunction's BatchSize
SPLIT_BYTES = 256 << 20  # driftline.runtime.settings: DRIFTLINE_SPLIT_BYTES
BYTES_PER_ROW = 60  # assumption: a compressed Parquet row of the benchmark model (20 columns)
SEGMENT_PROFILES = 6  # the benchmark model's profiles per window: the population and 5 regions
# runtime/spread.py: at most 9 parts of a batch of 10 sent back (measured with 2 workers: 3.5 a part of 8, 6.2 of 17)
PART_RESENDS = 9


def scale_out(inputs: Inputs, predictions_per_day: float) -> dict[str, float]:
    """Dollars a month per model for what the fan-out adds: each tick the dispatcher reads the model's config,
    state, at most one dirty mark and the open window's mark and look record (5 strongly consistent reads); each
    window due is one message on the evaluate queue (sent, received and deleted ten at a time), a lease taken (a
    read and a conditional write) and released (a delete), a judge invocation per ten models; each file counts
    itself in its window (one counter update) and every MERGE_EVERY-th file merges the window: the file items read
    (they were read by the evaluator before: counted again here, an upper bound) and the rollup written. A file
    above SPLIT_BYTES is queued in parts (as ``python -m bench.load_scale --only bigparquet`` counted): per part a
    message and at most PART_RESENDS more (parts sent back to be spread over invocations), each sent, received and
    deleted; the part's claim and finish and the model's two file counters (4 writes); and in each window the part
    has rows in (here: every window of its file, the upper bound) its own profile item, a dirty mark, the window's
    file counter and a file-count claim per segment profile. A tick after a file reached the open window queues the
    model too (its early look is the worker's to decide): a message and a tenth of an invocation per file, at most
    one a tick."""
    i = inputs
    windows = DAYS * 24 / i.window_hours
    files = i.files_per_day * DAYS
    files_per_window = i.files_per_day * i.window_hours / 24
    merges = windows * math.floor(files_per_window / MERGE_EVERY)
    profile_wru = math.ceil(i.profile_kb_per_file_window)
    rru = TICKS * 5 + windows * 1 + merges * math.ceil(MERGE_EVERY * i.profile_kb_per_file_window / 4)
    wru = windows * 2 + files * 1 + merges * (profile_wru + 1)
    messages = windows + min(files, TICKS)  # window closes, and ticks after a file reached the open window
    sqs = messages * 3 / JUDGE_BATCH
    file_bytes = predictions_per_day / i.files_per_day * BYTES_PER_ROW
    parts = math.ceil(file_bytes / SPLIT_BYTES) if file_bytes > SPLIT_BYTES else 0
    windows_per_file = max(1.0, 24 / i.files_per_day / i.window_hours)
    sqs += files * parts * (1 + PART_RESENDS) * 3
    wru += files * parts * (4 + windows_per_file * (profile_wru + 2 + SEGMENT_PROFILES))
    lambda_cost = messages / JUDGE_BATCH * LAMBDA_REQUEST + TICKS * 0.002 * i.evaluate_memory_mb / 1024 * LAMBDA_GB_S
    return {"DynamoDB": wru * DDB_WRU + rru * DDB_RRU, "SQS": sqs * SQS_REQUEST, "Lambda": lambda_cost}


def scale_out_per_stack(inputs: Inputs) -> float:
    """The evaluate queue's idle long polls (5 pollers, as per_stack) and its two alarms (DLQ, function errors)."""
    return 5 * 3 * 60 * 24 * DAYS * SQS_REQUEST + 2 * ALARM_MONTH


def scale_table(inputs: Inputs, volumes: tuple[float, ...] = (1e6, 10e6, 100e6), models: int = 1000) -> list[str]:
    base = [monthly(inputs, v) for v in volumes]
    extra = [scale_out(inputs, v) for v in volumes]
    head = "| $ / month, scaling out | " + " | ".join(f"{v / 1e6:,.0f}M predictions/day" for v in volumes) + " |"
    lines = [head, "|---" * (len(volumes) + 1) + "|"]
    for service in extra[0]:
        cells = " | ".join(f"{e[service]:,.3f}" for e in extra)
        lines.append(f"| fan-out, leases, merges, parts: {service} | {cells} |")
    per_model = [sum(b.values()) + sum(e.values()) for b, e in zip(base, extra, strict=True)]
    lines.append("| **Driftline, per model, scaled out** | " + " | ".join(f"**{c:,.2f}**" for c in per_model) + " |")
    stack = per_stack(inputs) + scale_out_per_stack(inputs)
    lines.append(
        f"| **a {models:,}-model stack** (each model at this volume, plus the stack's {stack:,.2f}) | "
        + " | ".join(f"**{models * c + stack:,.0f}**" for c in per_model)
        + " |"
    )
    return lines


def early_line(inputs: Inputs, volume: float = 1e6) -> str:
    """The cost of early looks at one volume: DynamoDB and the model's total, with and without them."""
    from dataclasses import replace

    on, off = monthly(replace(inputs, early=True), volume), monthly(replace(inputs, early=False), volume)
    rows_per_file = volume / inputs.files_per_day
    looks, _ = looks_per_window(rows_per_file, inputs.files_per_day * inputs.window_hours / 24, inputs.min_rows)
    d_on, d_off, t_on, t_off = on["DynamoDB"], off["DynamoDB"], sum(on.values()), sum(off.values())
    return (
        f"Early looks at {volume / 1e6:,.0f}M predictions/day ({looks} looks per {inputs.window_hours:g} h window, "
        f"partial points {inputs.open_points_kb:.1f} KB packed): DynamoDB ${d_on:,.2f} vs ${d_off:,.2f} without "
        f"({100 * (d_on / d_off - 1):+.1f}%); per model ${t_on:,.2f} vs ${t_off:,.2f} "
        f"({100 * (t_on / t_off - 1):+.1f}%)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    inputs = inputs_of(args)
    print("\n".join(table(inputs)))
    print()
    print(early_line(inputs))
    print()
    print("\n".join(scale_table(inputs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
