"""Where ``driftline local up`` leaves its ready settings, so that the next commands need no flags.

The file (``~/.driftline/local.json``, or ``DRIFTLINE_LOCAL_STATE``) holds the ready line plus the stack name, the
template's directory and the serving process's id. It is written once the local cloud is ready and removed when
it stops; a file whose process is gone (killed with -9) is ignored. No moto import here: the CLI reads it
without the ``local`` extra.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

STATE_ENV = "DRIFTLINE_LOCAL_STATE"


def state_path() -> Path:
    env = os.environ.get(STATE_ENV)
    return Path(env) if env else Path.home() / ".driftline" / "local.json"


def write_state(ready: dict[str, Any], *, stack: str, root: Path, host: str, pid: int | None = None) -> Path:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {**ready, "stack": stack, "root": str(root), "host": host, "pid": pid or os.getpid()}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _alive(pid: int) -> bool:
    if pid <= 0:  # never os.kill(0 or -1, ...): those name process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def read_state() -> dict[str, Any] | None:
    """The running local cloud's settings, or None (no file, unreadable, or its process is gone)."""
    try:
        doc = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not doc.get("endpoint_url") or not _alive(int(doc.get("pid") or 0)):
        return None
    return doc


def clear_state(pid: int | None = None) -> None:
    """Remove the file if it is this process's (a second ``local up`` elsewhere may have written its own)."""
    path = state_path()
    with contextlib.suppress(OSError, ValueError):
        if int(json.loads(path.read_text(encoding="utf-8")).get("pid", -1)) == (pid or os.getpid()):
            path.unlink()
