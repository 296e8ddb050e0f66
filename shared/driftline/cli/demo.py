"""``driftline demo``: the main job, end to end, on the embedded local cloud.

The story: a churn model, its baseline, a day of hourly prediction logs in mixed formats; part-way through the
day two features drift for everyone and the model quietly breaks for one country; labels arrive hours later.
The demo acts only through public interfaces — S3 puts and an SQS queue subscribed to the alerts topic — and
prints each alert as it arrives, then a summary and an HTML report.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.json

from driftline.testing import (
    CONFIG_YAML,
    DRIFT_FROM_HOUR,
    FORMATS,
    HOUR,
    LABELLED_HOURS,
    MODEL_ID,
    ROWS_PER_HOUR,
    demo_hour,
    encode,
    generate,
)


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
            table = demo_hour(h, day_start=day_start, seed=seed, rows=rows_per_hour)
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
