"""Shared fixtures: the SPEC example config, and a generator of synthetic prediction data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from driftline.core.config import ModelConfig, load_config_file

FIXTURES = Path(__file__).parent / "fixtures"

# Dummy credentials before any boto3 client exists (moto fixtures rely on this).
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Never the settings of a `driftline local up` running on this machine (~/.driftline/local.json): the tests' own.
os.environ["DRIFTLINE_LOCAL_STATE"] = str(Path(tempfile.mkdtemp(prefix="driftline-state-")) / "local.json")


@pytest.fixture
def churn_config() -> ModelConfig:
    return load_config_file(FIXTURES / "churn-v3.yaml")
