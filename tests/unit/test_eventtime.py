"""Event-time settings, the epoch unit of a file, ISO variants, and segment privacy in alerts (issue 12)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from driftline.core.config import load_config
from driftline.core.errors import ConfigError
from driftline.core.eventtime import DEFAULT_EARLIEST, EpochUnit, EpochUnitError, EventTimeSettings
from driftline.core.privacy import redact_segment
from driftline.io.coerce import to_epoch_seconds

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
BASE = """
model_id: m
task: binary_classification
columns:
  id: id
  timestamp: t
  prediction: p
  features: {numerical: [x], categorical: [c]}
  segments: [c]
window: 1h
"""


def test_event_time_settings_parse_and_round_trip() -> None:
    cfg = load_config(BASE + "event_time: {earliest: 2020-01-01, latest_ahead: 2d, max_windows_per_file: 50}\n")
    assert cfg.event_time == EventTimeSettings(1_577_836_800.0, 2 * 86_400, 50)
    assert load_config(BASE).event_time == EventTimeSettings(DEFAULT_EARLIEST)
    from driftline.core.config import load_config_dict

    assert load_config_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("{earliest: yesterday}", "event_time.earliest"),
        ("{latest_ahead: soon}", "event_time.latest_ahead"),
        ("{max_windows_per_file: 0}", "event_time.max_windows_per_file"),
        ("{colour: blue}", "event_time"),
    ],
)
def test_bad_event_time_settings_are_rejected_naming_the_key(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(BASE + f"event_time: {section}\n")
    assert any(e.startswith(key) for e in err.value.errors), err.value.errors


@pytest.mark.parametrize(("factor", "unit"), [(1, "s"), (1e3, "ms"), (1e6, "us"), (1e9, "ns")])
def test_the_epoch_unit_of_a_file_is_decided_from_its_values(factor: float, unit: str) -> None:
    epoch = EpochUnit(DEFAULT_EARLIEST, T0 + 86_400)
    values = (T0 + np.arange(10.0) * 60) * factor
    assert epoch.to_seconds(values) == pytest.approx(T0 + np.arange(10.0) * 60)
    assert epoch.unit == unit
    # a later batch in another unit: mixed units
    with pytest.raises(EpochUnitError, match="mix units"):
        epoch.to_seconds(values / factor * (1e3 if factor == 1 else 1))


def test_values_that_fit_two_units_are_ambiguous() -> None:
    epoch = EpochUnit(86_400.0, T0)  # a range wider than 1000x: 1e9 is 2001 in s and 1970-01-12 in ms
    with pytest.raises(EpochUnitError, match="fit both"):
        epoch.to_seconds(np.array([1e9, 1.2e9]))


def test_out_of_range_numbers_do_not_decide_the_unit() -> None:
    epoch = EpochUnit(DEFAULT_EARLIEST, T0)
    out = epoch.to_seconds(np.array([1e300, -9.2e18]))
    assert epoch.unit is None and not ((out >= DEFAULT_EARLIEST) & (out <= T0)).any()


def test_iso_variants_parse_to_the_same_instant() -> None:
    texts = ["2026-12-01t10:15:00z", "20261201T101500Z", "20261201T111500+0100", "2026-12-01T10:15:00,0Z"]
    got = to_epoch_seconds(pa.array(texts)).values
    assert np.all(got == got[0]) and got[0] == 1_796_120_100.0
    end_of_day = to_epoch_seconds(pa.array(["2026-11-30T24:00:00Z", "2026-12-01T00:00:00Z"])).values
    assert end_of_day[0] == end_of_day[1]
    assert to_epoch_seconds(pa.array(["2026-12-01T24:30:00Z"])).type_error[0]


def test_segment_privacy_config_and_redaction() -> None:
    cfg = load_config(BASE + "segment_privacy: {c: hash}\n")
    assert cfg.segment_privacy == (("c", "hash"),)
    hashed = redact_segment("m", cfg.segment_privacy, "c=US")
    assert hashed is not None and hashed.startswith("c=#") and "US" not in hashed
    other = redact_segment("m", cfg.segment_privacy, "c=DE")
    assert hashed == redact_segment("m", cfg.segment_privacy, "c=US") != other
    assert redact_segment("m", {"c": "drop"}, "c=US") == "c=*"
    assert redact_segment("m", cfg.segment_privacy, None) is None
    assert redact_segment("m", cfg.segment_privacy, "scenario:big") == "scenario:big"
    with pytest.raises(ConfigError, match=r"segment_privacy\.x"):
        load_config(BASE + "segment_privacy: {x: hash}\n")
    with pytest.raises(ConfigError, match=r"segment_privacy\.c"):
        load_config(BASE + "segment_privacy: {c: encrypt}\n")
