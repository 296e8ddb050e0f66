"""``driftline demo``: the main job, end to end, on the embedded local cloud.

The story: a churn model, its baseline, a day of hourly prediction logs in mixed formats; part-way through the
day two features drift for everyone and the model quietly breaks for one country; labels arrive hours later.
The demo acts only through public interfaces — S3 puts and an SQS queue subscribed to the alerts topic — and
prints each alert as it arrives, then a summary and an HTML report.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json
import pyarrow.parquet as pq

MODEL_ID = "churn-demo"
HOUR = 3600
DRIFT_FROM_HOUR = 14  # drift sets in part-way through the day
LABELLED_HOURS = 20  # labels have arrived for the first 20 hours when the demo ends
ROWS_PER_HOUR = 800
FORMATS = ("parquet", "csv.gz", "jsonl.gz", "csv", "jsonl", "parquet")

CONFIG_YAML = f"""\
model_id: {MODEL_ID}
task: binary_classification
columns:
  id: request_id
  timestamp: event_time
  prediction: will_churn
  score: churn_probability
  label: churned
  features:
    numerical: [tenure_months, monthly_spend, support_tickets]
    categorical: [plan, country, payment_method]
  segments: [country]
window: 1h
business_metrics:
  - {{name: retention_value, type: cost_matrix, values: {{tp: 120, fp: -15, fn: -400, tn: 0}}}}
  - {{name: spend_at_risk, type: sum, column: monthly_spend, where: {{column: will_churn, equals: 1}}}}
  - {{name: churn_rate_predicted, type: mean, column: will_churn}}
alerts:
  - {{name: feature-drift, metric: drift.jensen_shannon, columns: all_features, above: 0.1, severity: warning}}
  - {{name: accuracy-drop, metric: performance.accuracy, below_baseline_by: 0.05, for: 2, severity: critical}}
  - {{name: segment-accuracy, metric: performance.accuracy, segment: country, below_baseline_by: 0.2, for: 2,
     min_rows: 50, severity: critical}}
  - {{name: estimated-accuracy, metric: estimated.accuracy, below_baseline_by: 0.05, severity: warning}}
"""

COUNTRIES = np.array(["US", "DE", "FR", "BR", "IN"])
PLANS = np.array(["basic", "plus", "pro"])
PAYMENTS = np.array(["card", "paypal", "wire", "sepa"])


def generate(
    n: int,
    *,
    seed: int,
    start: float,
    span: float,
    drift: float = 0.0,
    broken_country: str | None = None,
    id_prefix: str = "r",
) -> pa.Table:
    """Rows of the churn model's world. ``drift`` in [0, 1] shifts tenure and spend for everyone;
    ``broken_country`` makes the model's scores meaningless there (its accuracy collapses)."""
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, n, p=[0.35, 0.2, 0.15, 0.2, 0.1])
    plan = rng.choice(PLANS, n, p=[0.5, 0.3, 0.2])
    tenure = rng.gamma(2.0, 12.0, n) * (1.0 - 0.55 * drift)
    spend = rng.normal(55.0, 15.0, n) + 25.0 * drift + np.where(plan == "pro", 30.0, 0.0)
    tickets = rng.poisson(1.0 + 1.5 * drift, n)
    payment = rng.choice(PAYMENTS, n, p=[0.5, 0.25, 0.15, 0.1])
    logit = -1.2 - 0.04 * tenure + 0.5 * tickets + 0.01 * (spend - 55.0) + np.where(plan == "basic", 0.6, 0.0)
    truth_p = 1.0 / (1.0 + np.exp(-logit))
    churned = rng.random(n) < truth_p
    score = np.clip(truth_p + rng.normal(0.0, 0.05, n), 0.001, 0.999)
    if broken_country is not None:
        broken = country == broken_country
        score = np.where(broken, rng.random(n), score)  # the model is blind there
    event_time = start + rng.random(n) * span
    return pa.table(
        {
            "request_id": [f"{id_prefix}-{i:07d}" for i in range(n)],
            "event_time": pa.array((event_time * 1000).astype(np.int64)),
            "tenure_months": tenure.round(1),
            "monthly_spend": spend.round(2),
            "support_tickets": tickets,
            "plan": plan,
            "country": country,
            "payment_method": payment,
            "churn_probability": score.round(4),
            "will_churn": (score >= 0.5).astype(np.int64),
            "churned": churned.astype(np.int64),
        }
    )


def encode(table: pa.Table, fmt: str) -> bytes:
    """One table as a file of the given format (parquet, csv, jsonl, each optionally .gz)."""
    buf = io.BytesIO()
    base = fmt.removesuffix(".gz")
    if base == "parquet":
        pq.write_table(table, buf, compression="zstd")
    elif base == "csv":
        pacsv.write_csv(table, buf)
    else:
        for row in table.to_pylist():
            buf.write(json.dumps(row).encode() + b"\n")
    data = buf.getvalue()
    return gzip.compress(data, 6) if fmt.endswith(".gz") else data


@dataclass
class AlertPrinter:
    """Reads the SQS queue subscribed to the alerts topic and prints each alert as it arrives."""

    sqs: Any
    queue_url: str
    out: Any = sys.stdout

    def __post_init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> AlertPrinter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll(wait=1)

    def poll(self, *, wait: int = 0) -> None:
        try:
            resp = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        except Exception:  # the local cloud is shutting down
            return
        for m in resp.get("Messages", []):
            envelope = json.loads(m["Body"])
            alert = json.loads(envelope["Message"])
            self.alerts.append(alert)
            mark = "!!" if alert["state"] == "ALARM" else "ok"
            print(f"  {mark} {envelope.get('Subject', '')}", file=self.out, flush=True)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()


def run_demo(
    *,
    out: str = "driftline-report.html",
    hours: int = 24,
    seed: int = 7,
    rows_per_hour: int = ROWS_PER_HOUR,
    stream: Any = None,
) -> int:
    from driftline.cli.local.cloud import LocalCloud
    from driftline.cli.output import format_table
    from driftline.cli.report import render_report
    from driftline.runtime.container import container

    say = stream or sys.stdout
    t0 = time.time()
    now = time.time()
    day_start = (int(now // HOUR) - hours) * HOUR  # the last `hours` whole hours, all closed
    print("Driftline demo — a churn model's day, on the embedded local cloud\n", file=say)
    with LocalCloud(tick=0) as cloud:
        bucket = cloud.outputs["DataBucketName"]
        s3, sqs, sns = cloud.client("s3"), cloud.client("sqs"), cloud.client("sns")
        print(f"local cloud up at {cloud.endpoint_url} (bucket {bucket})", file=say)
        q = sqs.create_queue(QueueName="demo-alerts")["QueueUrl"]
        q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=cloud.outputs["AlertsTopicArn"], Protocol="sqs", Endpoint=q_arn)
        printer = AlertPrinter(sqs, q, say).start()

        print("\n1. model configuration → models/churn-demo/config.yaml", file=say)
        s3.put_object(Bucket=bucket, Key=f"models/{MODEL_ID}/config.yaml", Body=CONFIG_YAML.encode())
        cloud.wait_idle()
        print("2. baseline: 50,000 reference rows → baselines/churn-demo/reference.parquet", file=say)
        ref = generate(50_000, seed=seed, start=day_start - 7 * 86_400, span=7 * 86_400, id_prefix="ref")
        s3.put_object(Bucket=bucket, Key=f"baselines/{MODEL_ID}/reference.parquet", Body=encode(ref, "parquet"))
        cloud.wait_idle()

        print(
            f"3. a day of prediction logs: {hours} hourly files, mixed formats; drift sets in at hour "
            f"{DRIFT_FROM_HOUR}, and the model breaks for country=BR",
            file=say,
        )
        logs: list[pa.Table] = []
        for h in range(hours):
            drift = 0.0 if h < DRIFT_FROM_HOUR else min(1.0, 0.35 + 0.15 * (h - DRIFT_FROM_HOUR))
            table = generate(
                rows_per_hour,
                seed=seed + 1 + h,
                start=day_start + h * HOUR,
                span=HOUR - 1,
                drift=drift,
                broken_country="BR" if h >= DRIFT_FROM_HOUR else None,
                id_prefix=f"h{h:02d}",
            )
            logs.append(table)
            fmt = FORMATS[h % len(FORMATS)]
            key = f"predictions/{MODEL_ID}/{time.strftime('%Y/%m/%d/%H', time.gmtime(day_start + h * HOUR))}.{fmt}"
            body = encode(table.drop_columns(["churned"]), fmt)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            print(f"   [{h + 1:2d}/{hours}] {key} ({fmt}, {table.num_rows:,} rows, {len(body):,} bytes)", file=say)
        cloud.wait_idle()
        print("\n4. the evaluator runs (scheduled every minute; run now): alerts so far", file=say)
        cloud.invoke_scheduled()
        time.sleep(1.5)

        labelled = min(LABELLED_HOURS, hours)
        print(f"\n5. labels arrive hours later: ground truth for the first {labelled} hours → labels/", file=say)
        for start in range(0, labelled, 6):
            part = pa.concat_tables(
                [logs[h].select(["request_id", "churned"]) for h in range(start, min(start + 6, labelled))]
            )
            key = f"labels/{MODEL_ID}/batch-{start:02d}.csv"
            s3.put_object(Bucket=bucket, Key=key, Body=encode(part, "csv"))
            print(f"   {key} ({part.num_rows:,} labels)", file=say)
        cloud.wait_idle()
        cloud.invoke_scheduled()
        time.sleep(1.5)
        printer.stop()

        c = container()
        points = list(c.store.points(MODEL_ID, start=day_start, end=day_start + hours * HOUR))
        print(f"\n6. summary: {len(points):,} metric points, {len(printer.alerts)} alerts", file=say)
        print(
            format_table(
                summary_rows(points, c.registry.config(MODEL_ID).features),
                ["window", "rows", "worst_drift", "js", "accuracy", "estimated", "BR_accuracy"],
            ),
            file=say,
        )
        html = render_report(c, MODEL_ID, start=day_start, end=day_start + hours * HOUR)
        with open(out, "w", encoding="utf-8") as f:
            f.write(html)
        print(f"report: {out} ({len(html):,} bytes)   demo took {time.time() - t0:.0f} s", file=say)
    return 0 if printer.alerts else 1


def summary_rows(points: list[Any], features: tuple[str, ...]) -> list[dict[str, Any]]:
    by_window: dict[int, dict[str, Any]] = {}
    for p in points:
        row = by_window.setdefault(
            p.window_start, {"window": time.strftime("%m-%d %H:%M", time.gmtime(p.window_start))}
        )
        if p.segment is None and p.metric == "volume.rows":
            row["rows"] = int(p.value)
        elif p.segment is None and p.metric == "drift.jensen_shannon" and p.column in features:
            if p.value > row.get("js", -1.0):
                row["js"], row["worst_drift"] = round(p.value, 3), p.column
        elif p.segment is None and p.metric == "performance.accuracy":
            row["accuracy"] = round(p.value, 3)
        elif p.segment is None and p.metric == "estimated.accuracy":
            row["estimated"] = round(p.value, 3)
        elif p.segment == "country=BR" and p.metric == "performance.accuracy":
            row["BR_accuracy"] = round(p.value, 3)
    return [by_window[w] for w in sorted(by_window)]
