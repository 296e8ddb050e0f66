"""Scenario conditions (SPEC §2) on one Arrow batch: a boolean numpy mask per scenario, vectorised.

Each leaf is one pass of Arrow compute or numpy over a column (values normalised as business-metric ``where``
clauses are: ``equals: 1`` matches 1, 1.0 and "1"); ``all`` / ``any`` combine the masks with ``&`` / ``|``.
No per-row Python. A column absent from the file has every value missing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from driftline.core.scenarios import Condition
from driftline.io.coerce import equals_mask, to_category, to_numeric

BoolArray = NDArray[np.bool_]


def condition_mask(cond: Condition, batch: pa.RecordBatch, numerical: frozenset[str]) -> BoolArray:
    """The rows of ``batch`` where ``cond`` holds. ``numerical``: the columns read as numbers."""
    n = batch.num_rows
    if cond.op == "all":
        out = np.ones(n, dtype=np.bool_)
        for part in cond.parts:
            out &= condition_mask(part, batch, numerical)
        return out
    if cond.op == "any":
        out = np.zeros(n, dtype=np.bool_)
        for part in cond.parts:
            out |= condition_mask(part, batch, numerical)
        return out
    assert cond.column is not None
    idx = batch.schema.get_field_index(cond.column)
    if idx < 0:  # every value missing
        return np.full(n, cond.op == "is_missing" and bool(cond.value), dtype=np.bool_)
    arr = batch.column(idx)
    if cond.op == "equals":
        return np.asarray(equals_mask(arr, cond.value), dtype=np.bool_)
    if cond.op == "in":
        out = np.zeros(n, dtype=np.bool_)
        for v in cond.value:
            out |= equals_mask(arr, v)
        return out
    if cond.op in ("above", "below"):
        values = to_numeric(arr).values
        with np.errstate(invalid="ignore"):  # NaN (missing, not a number) compares False
            return np.asarray(values > cond.value if cond.op == "above" else values < cond.value, dtype=np.bool_)
    # is_missing: null, empty text, NaN; for a numerical column also a value that is not a number
    if cond.column in numerical:
        num = to_numeric(arr)
        missing = num.missing | np.isnan(num.values)
    else:
        missing = np.asarray(to_category(arr).is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    return missing if cond.value else ~missing
