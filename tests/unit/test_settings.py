"""The functions' environment, read once into Settings: defaults, and a bad value refused naming the variable."""

from __future__ import annotations

import pytest

from driftline.core.errors import DriftlineError
from driftline.runtime.settings import Settings

BASE = {"DRIFTLINE_BUCKET": "b", "DRIFTLINE_TABLE": "t", "DRIFTLINE_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:t"}


def test_defaults_and_values_read() -> None:
    s = Settings.from_env(BASE)
    read = (s.metrics_retention_days, s.id_retention_days, s.split_bytes, s.max_receive_count)
    assert read == (400, 90, 256 << 20, 5)
    s = Settings.from_env(
        {
            **BASE,
            "DRIFTLINE_METRICS_RETENTION_DAYS": "30",
            "DRIFTLINE_ID_RETENTION_DAYS": "3650",
            "DRIFTLINE_SPLIT_BYTES": "1024",
            "DRIFTLINE_MAX_RECEIVE_COUNT": "1",
        }
    )
    assert (s.metrics_retention_days, s.id_retention_days, s.split_bytes, s.max_receive_count) == (30, 3650, 1024, 1)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("DRIFTLINE_METRICS_RETENTION_DAYS", "a year", "must be a whole number of days, got 'a year'"),
        ("DRIFTLINE_ID_RETENTION_DAYS", "0", "must be between 1 and 3650, got 0"),
        ("DRIFTLINE_METRICS_RETENTION_DAYS", "3651", "must be between 1 and 3650, got 3651"),
        ("DRIFTLINE_SPLIT_BYTES", "1e9", "must be a whole number of bytes, got '1e9'"),
        ("DRIFTLINE_SPLIT_BYTES", "1023", "must be at least 1024, got 1023"),
        ("DRIFTLINE_MAX_RECEIVE_COUNT", "five", "must be a whole number, got 'five'"),
        ("DRIFTLINE_MAX_RECEIVE_COUNT", "1001", "must be between 1 and 1000, got 1001"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(DriftlineError) as err:
        Settings.from_env({**BASE, name: raw})
    assert str(err.value) == f"{name} {message}"


def test_missing_variables_are_named() -> None:
    with pytest.raises(DriftlineError, match="DRIFTLINE_TABLE, DRIFTLINE_TOPIC_ARN"):
        Settings.from_env({"DRIFTLINE_BUCKET": "b"})
