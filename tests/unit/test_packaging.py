"""The evaluator ships without pyarrow (its layer has numpy only): its whole code path must not import it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_evaluator_path_runs_without_pyarrow() -> None:
    # Given an interpreter where importing pyarrow fails
    code = textwrap.dedent(
        """
        import sys, os
        sys.modules["pyarrow"] = None
        os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true")
        sys.path.insert(0, "functions/evaluate")
        import app  # the handler module
        from driftline.runtime.container import Container
        from driftline.runtime.settings import Settings
        c = Container(Settings(bucket="b", table="t", topic_arn="arn:aws:sns:us-east-1:1:t", region="us-east-1"))
        c.evaluate  # When the evaluator service is built
        import driftline.services.evaluate, driftline.cli.report
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Then nothing needed pyarrow
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_configuration_drops_are_handled_without_pyarrow() -> None:
    # Given an interpreter where importing pyarrow fails, and the config function's handler module imported
    code = textwrap.dedent(
        """
        import sys, os
        sys.modules["pyarrow"] = None
        os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true")
        sys.path.insert(0, "functions/config")
        import app  # the handler module
        from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
        from driftline.services.alerts import AlertPublisher
        from driftline.services.ingest import IngestService
        from driftline.services.models import ModelRegistry, parse_key
        from driftline.services.store import Store

        store, objects = Store(MemoryTable()), MemoryObjectStore("b")
        objects.put_bytes("models/churn-v3/config.yaml", open("tests/fixtures/churn-v3.yaml", "rb").read())
        service = IngestService(store, ModelRegistry(store, objects), AlertPublisher(store, MemoryAlertSink()))
        # When a configuration drop is handled
        outcome = service.handle(parse_key("b", "models/churn-v3/config.yaml", "e1"))
        print(outcome.status, outcome.details)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Then it was validated and stored, and nothing needed pyarrow (the config function ships without it)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "processed {'task': 'binary_classification'}"
