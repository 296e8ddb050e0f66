"""Segment values in alerts: kept, hashed or dropped, per segment column (``segment_privacy`` in the config).

Metrics keep every segment value (they are names the user chose to see, queried by ``driftline metrics``); an alert
travels further (e-mail, chat, tickets, the event bus), so a segment column can be configured to show there as
``hash`` (``country=#3f9a0c51d2e4``: a stable pseudonym per model, column and value, so alerts of different values stay
distinct and the same value keeps its name) or ``drop`` (``country=*``: the column only; two values alarming for the
same rule in the same window then publish once). A hash is a pseudonym, not encryption: a guessable value (a country)
can be found again by hashing candidates; use ``drop`` where that matters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Final

PRIVACY_MODES: Final = ("keep", "hash", "drop")
DROPPED: Final = "*"


def redact_segment(
    model_id: str, privacy: Mapping[str, str] | Iterable[tuple[str, str]] | None, segment: str | None
) -> str | None:
    """The segment as an alert shows it. ``segment`` is ``"<column>=<value>"``, ``"scenario:<name>"`` or None."""
    if not segment or not privacy or "=" not in segment:
        return segment
    column, _, value = segment.partition("=")
    mode = dict(privacy).get(column, "keep")
    if mode == "drop":
        return f"{column}={DROPPED}"
    if mode == "hash":
        digest = hashlib.sha256(f"{model_id}\0{column}\0{value}".encode()).hexdigest()[:12]
        return f"{column}=#{digest}"
    return segment
