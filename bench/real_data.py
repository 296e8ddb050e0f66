"""Real public data sets available offline, as columns for ``bench.detect_real``: sklearn's bundled ones and the
local tables of ``vega_datasets``. A loader returns None when its package is not installed (the bench skips it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Data:
    """A real table: its columns (numpy arrays), which are numerical / categorical features, and the prediction."""

    name: str
    source: str
    columns: dict[str, np.ndarray]
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    prediction: np.ndarray

    @property
    def rows(self) -> int:
        return int(self.prediction.size)

    def table(self) -> pa.Table:
        cols = {c: pa.array(self.columns[c]) for c in (*self.numerical, *self.categorical)}
        cols["prediction"] = pa.array(self.prediction.astype(np.float64))
        return pa.table(cols)


def _sklearn(name: str) -> Data | None:
    try:
        from sklearn import datasets
    except ModuleNotFoundError:
        return None
    if name == "digits":  # 8x8 images: 64 integer pixels 0..16, many all but constant; the digit as a code
        b = datasets.load_digits()
        cols = {f"px_{i // 8}_{i % 8}": b.data[:, i].astype(np.int64) for i in range(64)}
        cols["digit"] = b.target.astype(np.int64)
        return Data(name, "sklearn load_digits", cols, tuple(cols)[:64], ("digit",), b.target)
    if name == "digits_edges":  # the 16 border pixels of digits: near-constant (>= 90% zeros), rare other values
        b = datasets.load_digits()
        keep = [i for i in range(64) if np.unique(b.data[:, i], return_counts=True)[1].max() >= 0.9 * b.target.size]
        cols = {f"px_{i // 8}_{i % 8}": b.data[:, i].astype(np.int64) for i in keep}
        return Data(name, "sklearn load_digits, border pixels", cols, tuple(cols), (), b.target)
    if name == "diabetes":  # raw (unscaled): age, sex (1/2, a code), bmi, bp, six serum measures
        b = datasets.load_diabetes(scaled=False)
        cols = {f: b.data[:, i] for i, f in enumerate(b.feature_names)}
        cols["sex"] = cols["sex"].astype(np.int64)
        numerical = tuple(f for f in b.feature_names if f != "sex")
        return Data(name, "sklearn load_diabetes(scaled=False)", cols, numerical, ("sex",), b.target)
    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]
    b = loader()
    names = [str(f).replace(" ", "_") for f in b.feature_names]
    cols = {f: b.data[:, i] for i, f in enumerate(names)}
    label = "diagnosis" if name == "breast_cancer" else "cultivar"
    cols[label] = b.target.astype(np.int64)
    return Data(name, f"sklearn load_{name}", cols, tuple(names), (label,), b.target)


def _vega(name: str) -> Data | None:
    try:
        from vega_datasets import local_data
    except ModuleNotFoundError:
        return None
    df = getattr(local_data, name)()
    cols: dict[str, np.ndarray] = {}
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    if name == "seattle_weather":  # daily 2012-2015: precipitation (mostly 0, skewed), temperatures, wind
        numerical = ("precipitation", "temp_max", "temp_min", "wind")
        cols["weather"] = df["weather"].to_numpy(dtype=object)
        cols["month"] = df["date"].dt.month.to_numpy(dtype=np.int64)
        categorical = ("weather", "month")
    elif name in ("sf_temps", "seattle_temps"):  # hourly temperatures over a year (0.1 degree steps)
        numerical = ("temp",)
        cols["hour"] = df["date"].dt.hour.to_numpy(dtype=np.int64)
        categorical = ("hour",)
    elif name == "airports":  # US airports: coordinates with far outliers (Alaska, Pacific); state, city
        numerical = ("latitude", "longitude")
        for c in ("state", "country", "city"):
            cols[c] = df[c].astype(object).where(df[c].notna(), None).to_numpy(dtype=object)
        categorical = ("state", "country", "city")
    else:  # cars: integer-valued cylinders, missing mpg and horsepower, few hundred rows
        numerical = ("Miles_per_Gallon", "Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration")
        cols["Origin"] = df["Origin"].to_numpy(dtype=object)
        categorical = ("Origin",)
    for c in numerical:
        cols[c] = df[c].to_numpy(dtype=np.float64)
    pred = cols[numerical[0]]
    return Data(name, f"vega_datasets local_data.{name}", cols, numerical, categorical, np.nan_to_num(pred))


LOADERS: dict[str, Callable[[], Data | None]] = {
    "digits": lambda: _sklearn("digits"),
    "digits_edges": lambda: _sklearn("digits_edges"),
    "breast_cancer": lambda: _sklearn("breast_cancer"),
    "diabetes": lambda: _sklearn("diabetes"),
    "wine": lambda: _sklearn("wine"),
    "seattle_weather": lambda: _vega("seattle_weather"),
    "sf_temps": lambda: _vega("sf_temps"),
    "seattle_temps": lambda: _vega("seattle_temps"),
    "airports": lambda: _vega("airports"),
    "cars": lambda: _vega("cars"),
}
