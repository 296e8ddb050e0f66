"""The id index of prediction rows, and the rows rebuilt from it when their labels arrive (pyarrow's side of
:mod:`driftline.services.ingest`, imported only by the prediction and label paths)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from driftline.core.config import ModelConfig
from driftline.core.profiler import PreparedBatch
from driftline.core.scenarios import scenarios_key
from driftline.io.coerce import to_category, to_numeric
from driftline.io.prepare import GROUP_CODE_PREFIX, SCENARIO_BITS, BatchPreparer


class IdIndex:
    """Collects, per prediction row, what a later label needs: window, segment values, prediction, score."""

    def __init__(self, config: ModelConfig, baseline_id: str) -> None:
        self.config = config
        self.baseline_id = baseline_id
        self.rows: list[dict[str, Any]] = []

    def add(self, preparer: BatchPreparer, prepared: PreparedBatch) -> None:
        batch = preparer.last_batch
        if batch is None:
            return
        cfg = self.config
        id_idx = batch.schema.get_field_index(cfg.columns.id)
        if id_idx < 0:
            return
        ids = to_category(batch.column(id_idx)).to_pylist()
        cols: dict[str, list[Any]] = {"ws": prepared.window_start.tolist()}
        pred_idx = batch.schema.get_field_index(cfg.columns.prediction)
        if pred_idx >= 0:
            arr = batch.column(pred_idx)
            cols["pred"] = to_numeric(arr).values.tolist() if cfg.task == "regression" else to_category(arr).to_pylist()
        if cfg.columns.score and batch.schema.get_field_index(cfg.columns.score) >= 0:
            cols["score"] = to_numeric(batch.column(cfg.columns.score)).values.tolist()
        for seg in cfg.columns.segments:
            if batch.schema.get_field_index(seg) >= 0:
                cols[f"seg:{seg}"] = to_category(batch.column(seg)).to_pylist()
        for col, codes in prepared.fairness.items():  # the group's code, not the raw value
            cols[f"fg:{col}"] = codes.tolist()
        if prepared.scenarios:
            bits = np.zeros(prepared.n, np.int64)
            for i, s in enumerate(cfg.scenarios):
                bits |= prepared.scenarios[s.name].astype(np.int64) << i
            cols["sc"] = bits.tolist()
            cols["sck"] = [scenarios_key(cfg.scenarios)] * prepared.n
        names = list(cols)
        for i, row_id in enumerate(ids):
            if row_id is None:
                continue
            item: dict[str, Any] = {"id": row_id, "b": self.baseline_id}
            for n in names:
                v = cols[n][i]
                if v is not None and not (isinstance(v, float) and v != v):
                    item[n] = v
            self.rows.append(item)


def joined_batch(config: ModelConfig, items: list[dict[str, Any]], labels: pa.Array) -> dict[str, pa.RecordBatch]:
    """Rows rebuilt from the id index plus their labels, one Arrow batch per baseline id."""
    cols = config.columns
    by_baseline: dict[str, list[int]] = {}
    for j, it in enumerate(items):
        by_baseline.setdefault(str(it.get("b")), []).append(j)
    out = {}
    for bid, idx in by_baseline.items():
        sel = [items[j] for j in idx]
        data: dict[str, pa.Array] = {
            cols.timestamp: pa.array([float(it["ws"]) for it in sel], pa.float64()),
            cols.label or "label": labels.take(pa.array(idx)),
        }
        if config.task == "regression":
            data[cols.prediction] = pa.array([it.get("pred") for it in sel], pa.float64())
        else:
            data[cols.prediction] = pa.array([it.get("pred") for it in sel], pa.string())
        if cols.score:
            data[cols.score] = pa.array([it.get("score") for it in sel], pa.float64())
        for seg in cols.segments:
            data[seg] = pa.array([it.get(f"seg:{seg}") for it in sel], pa.string())
        for col in config.sensitive_columns:
            data[GROUP_CODE_PREFIX + col] = pa.array([it.get(f"fg:{col}") for it in sel], pa.int64())
        if config.scenarios:  # bits kept under another scenario list (the config changed since) count for none
            key = scenarios_key(config.scenarios)
            data[SCENARIO_BITS] = pa.array([it.get("sc", 0) if it.get("sck") == key else 0 for it in sel], pa.int64())
        out[bid] = pa.RecordBatch.from_pydict(data)
    return out
