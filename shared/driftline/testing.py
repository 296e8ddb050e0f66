"""The demo's churn model as data: its config, a generator of its prediction logs (with drift, a broken segment
and labels), and files of any format. Used by ``driftline demo``, the tests and the benchmarks.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json
import pyarrow.parquet as pq

from driftline.services.ports import Item, NotFound, ObjectLister

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
  - {{name: feature-drift, metric: drift.jensen_shannon, columns: all_features, above: auto, severity: warning}}
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


def demo_hour(h: int, *, day_start: float, seed: int, rows: int = ROWS_PER_HOUR) -> pa.Table:
    """Hour ``h`` of the demo's day (``driftline demo``): no drift before :data:`DRIFT_FROM_HOUR`, then drift that
    grows from 0.35 by 0.15 an hour, and the model broken for country=BR."""
    drift = 0.0 if h < DRIFT_FROM_HOUR else min(1.0, 0.35 + 0.15 * (h - DRIFT_FROM_HOUR))
    return generate(
        rows,
        seed=seed + 1 + h,
        start=day_start + h * HOUR,
        span=HOUR - 1,
        drift=drift,
        broken_country="BR" if h >= DRIFT_FROM_HOUR else None,
        id_prefix=f"h{h:02d}",
    )


def lean_config(model_id: str, *, alerts: str = "") -> str:
    """A lean model's configuration YAML on the generator's columns: two numerical and one categorical feature,
    1 h windows, no label column (few metric points and alert targets per window). ``alerts``: the YAML of an
    ``alerts:`` list's items, one ``  - {...}`` line each (none: the default rules)."""
    text = f"""\
model_id: {model_id}
task: binary_classification
columns:
  id: request_id
  timestamp: event_time
  prediction: will_churn
  score: churn_probability
  features:
    numerical: [tenure_months, monthly_spend]
    categorical: [plan]
window: 1h
"""
    return text + (f"alerts:\n{alerts}" if alerts else "")


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


def etag_of(objects: ObjectLister, key: str) -> str:
    """The ETag of the object ``key`` (what an S3 event carries), from a listing: tests and benchmarks build the
    object reference of a file they put with it (the product takes the ETag from the event)."""
    for listed in objects.list_objects(key):
        if listed.key == key:
            return listed.etag
    raise NotFound(f"{key}: no such object")


# a model's per-file, per-key, error and alert items: not part of what registers it
_NOT_REGISTRATION = ("FILE#", "KEY#", "ERR#", "ALERT#")


def registration_copy(items: Sequence[Item], source: str, target: str) -> list[Item]:
    """The items that register model ``source`` (config, baseline, state, its windows' profiles) rewritten for model
    ``target``: how tests and benchmarks stand up many models without building each baseline (its
    ``_driftline/<source>`` objects copied to ``target``'s keys go with them). ``items`` may hold other models'."""
    copies = []
    for item in items:
        pk, sk = str(item["pk"]), str(item["sk"])
        if source not in pk + sk or pk.startswith(_NOT_REGISTRATION):
            continue
        c = {k: (v.replace(source, target) if isinstance(v, str) and k in ("pk", "sk", "config") else v)
             for k, v in item.items()}  # fmt: skip
        if c["pk"] == "MODELS":
            c["sk"] = c["model_id"] = target
        copies.append(c)
    return copies
