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
