"""Arrow record batches -> the numpy inputs of the core (``PreparedBatch``), and reference batches -> samples.

This is the only place that knows both the file side (Arrow types, messy values) and the core's inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.core.baseline import BinSpec, ReferenceSampler, categorical_columns, numeric_columns
from driftline.core.config import ModelConfig
from driftline.core.errors import InputError
from driftline.core.eventtime import EpochUnit, EpochUnitError, EventTimeSettings, in_range
from driftline.core.profiler import CategoryInput, NumericInput, PreparedBatch
from driftline.io.coerce import category_codes, equals_mask, to_category, to_epoch_seconds, to_numeric
from driftline.io.conditions import condition_mask

#: Columns of the rows the delayed-label path rebuilds from what it kept of each prediction: a sensitive column's
#: group code (``GROUP_CODE_PREFIX + column``) and the scenarios the row was in (bit i: ``config.scenarios[i]``).
GROUP_CODE_PREFIX = "__driftline_group:"
SCENARIO_BITS = "__driftline_scenarios"


def value_columns(config: ModelConfig) -> list[str]:
    """The columns whose values are profiled — features, prediction, label, score, segments, business-metric
    columns — each once."""
    cols: list[str] = list(config.monitored_columns)
    for bm in config.business_metrics:
        if bm.column:
            cols.append(bm.column)
        if bm.where:
            cols.append(bm.where.column)
    cols += config.sensitive_columns
    for scenario in config.scenarios:
        cols += scenario.where.columns()
    return list(dict.fromkeys(cols))


def wanted_columns(config: ModelConfig) -> list[str]:
    """Every column Driftline reads from a prediction log or reference file, each once."""
    return list(dict.fromkeys([config.columns.id, config.columns.timestamp, *value_columns(config)]))


def string_columns(config: ModelConfig) -> list[str]:
    """Columns read as text whatever they look like: ids and categorical columns (so "007" stays "007")."""
    return list(
        dict.fromkeys(
            [config.columns.id, *config.categorical_features, *config.columns.segments, *config.sensitive_columns]
        )
    )


def _column(batch: pa.RecordBatch, name: str) -> pa.Array | None:
    idx = batch.schema.get_field_index(name)
    return None if idx < 0 else batch.column(idx)


@dataclass
class PrepareStats:
    """What a file's rows looked like before profiling: rows read and rows dropped with the reason."""

    rows: int = 0
    bad_timestamp: int = 0  # time errors: event time missing, unparseable or outside the plausible range
    missing_columns: set[str] = field(default_factory=set)
    checked_columns: bool = False
    windows: set[int] = field(default_factory=set)  # the event-time windows the file's valid rows fall in

    @property
    def profiled(self) -> int:
        return self.rows - self.bad_timestamp


class BatchPreparer:
    """Decodes batches of one file against the frozen bins of a baseline."""

    def __init__(
        self, config: ModelConfig, spec: BinSpec, *, reference: bool = False, now: float | None = None
    ) -> None:
        """``now``: the file's arrival (epoch seconds), which bounds its plausible event times (default: the
        current time)."""
        self.config = config
        self.spec = spec
        self.reference = reference  # reference data: no event time needed, every row in window 0
        self.stats = PrepareStats()
        self.times: EventTimeSettings = config.event_time
        self._lo, self._hi = self.times.bounds(time.time() if now is None else now)
        self._unit = EpochUnit(self._lo, self._hi)  # epoch numbers: one unit per file
        self._numeric = [c for c in numeric_columns(config) if c in spec.numeric]
        self._categorical = [c for c in categorical_columns(config) if c in spec.categorical]
        self._as_numbers = frozenset(numeric_columns(config))

    def prepare(self, batch: pa.RecordBatch) -> PreparedBatch:
        return self.prepare_rows(batch)[0]

    def prepare_rows(self, batch: pa.RecordBatch) -> tuple[PreparedBatch, pa.RecordBatch]:
        """The prepared batch and the Arrow rows it was made of (those with a valid event time), aligned."""
        cfg = self.config
        self.stats.rows += batch.num_rows
        if not self.stats.checked_columns:  # once per file: the first batch has the file's columns
            self.stats.checked_columns = True
            for col in wanted_columns(cfg):
                if col != cfg.columns.id and batch.schema.get_field_index(col) < 0:
                    self.stats.missing_columns.add(col)
        ts_arr = _column(batch, cfg.columns.timestamp)
        if self.reference:
            return self._decode(batch, np.zeros(batch.num_rows, np.int64)), batch
        if ts_arr is None:
            self.stats.bad_timestamp += batch.num_rows
            return PreparedBatch(0, np.empty(0, np.int64)), batch.slice(0, 0)
        try:
            ts = to_epoch_seconds(ts_arr, epoch=self._unit.to_seconds)
        except EpochUnitError as err:
            raise InputError(f"column {cfg.columns.timestamp!r}: {err}") from err
        keep = ~(ts.missing | ts.type_error) & in_range(ts.values, self._lo, self._hi)
        n_bad = int(batch.num_rows - keep.sum())
        if n_bad:
            self.stats.bad_timestamp += n_bad
            batch = batch.filter(pa.array(keep))
            ts_values = ts.values[keep]
        else:
            ts_values = ts.values
        width = cfg.window_seconds
        window_start = (np.floor(ts_values / width) * width).astype(np.int64)
        self.stats.windows.update(np.unique(window_start).tolist())
        cap = self.times.max_windows_per_file
        if len(self.stats.windows) > cap:
            raise InputError(
                f"the event times of the file spread over more than {cap:,} windows of {cfg.window}: split the file "
                "by time, or raise event_time.max_windows_per_file"
            )
        return self._decode(batch, window_start), batch

    def _decode(self, batch: pa.RecordBatch, window_start: np.ndarray) -> PreparedBatch:
        cfg = self.config
        numeric: dict[str, NumericInput] = {}
        for col in self._numeric:
            arr = _column(batch, col)
            if arr is not None:
                nc = to_numeric(arr)
                numeric[col] = NumericInput(nc.values, nc.missing, nc.type_error)
        categorical: dict[str, CategoryInput] = {}
        for col in self._categorical:
            arr = _column(batch, col)
            if arr is not None:
                categorical[col] = CategoryInput(
                    category_codes(arr, self.spec.categorical[col].categories).astype(np.int64)
                )
        segments: dict[str, np.ndarray] = {}
        for col, values in self.spec.segments.items():
            arr = _column(batch, col)
            codes = (
                np.full(batch.num_rows, -1, np.int64) if arr is None else category_codes(arr, values).astype(np.int64)
            )
            segments[col] = np.where(codes >= 0, codes, len(values))
        business: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for bm in cfg.business_metrics:
            if bm.type == "cost_matrix" or bm.column is None:
                continue
            arr = _column(batch, bm.column)
            if arr is None:
                continue
            amounts = to_numeric(arr).values
            mask = np.ones(batch.num_rows, dtype=bool)
            if bm.where is not None:
                where_arr = _column(batch, bm.where.column)
                mask = (
                    np.zeros(batch.num_rows, dtype=bool)
                    if where_arr is None
                    else equals_mask(where_arr, bm.where.equals)
                )
            business[bm.name] = (amounts, mask)
        fairness: dict[str, np.ndarray] = {}
        for col, groups in self.spec.fairness_groups.items():
            arr = _column(batch, GROUP_CODE_PREFIX + col)  # rows rebuilt for their labels: the code kept
            if arr is not None:
                kept = np.asarray(pc.fill_null(arr, len(groups)).to_numpy(zero_copy_only=False), np.int64)
                fairness[col] = np.where((kept >= 0) & (kept <= len(groups)), kept, len(groups))
                continue
            arr = _column(batch, col)
            codes = (
                np.full(batch.num_rows, -1, np.int64) if arr is None else category_codes(arr, groups).astype(np.int64)
            )
            fairness[col] = np.where(codes >= 0, codes, len(groups))
        scenarios: dict[str, np.ndarray] = {}
        bits = _column(batch, SCENARIO_BITS)
        if bits is not None:
            b = np.asarray(pc.fill_null(bits, 0).to_numpy(zero_copy_only=False), np.int64)
            scenarios = {s.name: (b >> i) & 1 == 1 for i, s in enumerate(cfg.scenarios)}
        else:
            scenarios = {s.name: condition_mask(s.where, batch, self._as_numbers) for s in cfg.scenarios}
        return PreparedBatch(
            batch.num_rows, window_start, numeric, categorical, segments, business, fairness, scenarios
        )


def sample_reference(sampler: ReferenceSampler, batch: pa.RecordBatch) -> None:
    """First baseline pass: feed one reference batch to the sampler."""
    cfg = sampler.config
    sampler.add_rows(batch.num_rows)
    for col in numeric_columns(cfg):
        arr = _column(batch, col)
        if arr is not None:
            sampler.add_numeric(col, to_numeric(arr).values)
    for col in categorical_columns(cfg):
        arr = _column(batch, col)
        if arr is None:
            continue
        vc = pc.value_counts(to_category(arr).drop_null())
        sampler.add_categories(col, vc.field("values").to_pylist(), vc.field("counts").to_pylist())
    for col in cfg.sensitive_columns:
        arr = _column(batch, col)
        if arr is None:
            continue
        vc = pc.value_counts(to_category(arr).drop_null())
        sampler.add_groups(col, vc.field("values").to_pylist(), vc.field("counts").to_pylist())
