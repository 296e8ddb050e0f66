"""The DynamoDB key design, written once over the ``Table`` port (a DynamoDB table or the in-memory fake).

Every item shape is known in this package only (the table below); it hands typed, frozen records up
(``records.py``), never items. One module per area, each a mixin of the ``Store`` facade over the shared encodings
(``base.py``): ``models.py`` (MODELS, MODEL#), ``files.py`` (FILE#, KEY#, leases), ``windows.py`` (PROF#, DIRTY#),
``points.py`` (MET#, OPEN#), ``joins.py`` (JOIN#, JOINF#), ``alerts.py`` (ALERT#, OUTBOX#, ERR#).

    pk                               sk                                   what
    MODELS                           <model>                              the registry of models
    MODEL#<model>                    CONFIG                               the model's config (JSON) in force
    MODEL#<model>                    BASELINE                             the current baseline: id and S3 key
    MODEL#<model>                    STATE                                first window seen, last window closed
    MODEL#<model>                    FILES                                files received / done / failed; the last one
    MODEL#<model>                    RUN                                  the evaluator's last run, its errors
    MODEL#<model>                    LEASE                                the evaluator holding the model, until when
    FILE#<file id>                   FILE                                 one input file: status, key, rows
    PROF#<model>#<window start>      F#<file id>#p<part>                  one file's profiles of one window
    PROF#<model>#<window start>      R#HEAD / R#<version>#<token>#p<part> the window's rolled-up profiles
    PROF#<model>#<window start>      C#FILES                              files written to the window (a counter)
    PROF#<model>#<window start>      S#<file id>#<segment>                the part of a split file that counts it
    DIRTY#<model>                    <window start>                       windows with new files or labels (+ rows)
    OPEN#<model>                     L#<window start>                     early looks at a window while it was open
    OPEN#<model>                     P#<window start>#p<part>             an open window's partial points, packed
    MET#<model>#<metric>#<col>#<seg> <window start>                       one metric point (gsi1: MET#<model>)
    ALERT#<model>                    S#<rule>#<col>#<seg>                 a rule's state for a column, segment
    ALERT#<model>                    H#<window start>#<rule>#<col>#<seg>#<state>   an alert, written once
    OUTBOX#<model>                   H#<window start>#<rule>#<col>#<seg>#<state>   an alert not yet published
    ERR#<model>                      <time>#<file id>                     a file that could not be processed
    KEY#<model>#<key hash>           KEY                                  the counted version (file id) of a data key
    JOIN#<model>                     <position> / R#<position>            the label join's log: a file's place,
                                                                          and its result once joined
    JOINF#<model>                    <P|L>#<file id>                      a file's place and result, by file

Window starts are zero-padded epoch seconds, so sort keys sort by time. Blobs (profiles) are zlib-compressed
JSON, split into parts below DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import time
from typing import Any

from driftline.services.ports import Table
from driftline.services.store.alerts import AlertsMixin
from driftline.services.store.base import (
    KEY_EPOCH_OFFSET,
    NONE,
    PART_BYTES,
    PARTIAL_TTL,
    doc_to_profiles,
    file_id_for,
    profiles_to_doc,
    ws_key,
)
from driftline.services.store.files import FilesMixin
from driftline.services.store.joins import JoinsMixin
from driftline.services.store.models import ModelsMixin
from driftline.services.store.points import PointsMixin
from driftline.services.store.records import (
    AlarmRecord,
    AlertRecord,
    AlertStateRecord,
    BaselineRecord,
    ConfigRecord,
    ErrorRecord,
    FileCounts,
    FileRecord,
    JoinEntry,
    JoinFile,
    JoinLog,
    JoinResult,
    ModelState,
    OpenWindow,
    RunRecord,
    WindowProfiles,
)
from driftline.services.store.windows import WindowsMixin

__all__ = [
    "KEY_EPOCH_OFFSET",
    "NONE",
    "PARTIAL_TTL",
    "PART_BYTES",
    "AlarmRecord",
    "AlertRecord",
    "AlertStateRecord",
    "BaselineRecord",
    "ConfigRecord",
    "ErrorRecord",
    "FileCounts",
    "FileRecord",
    "JoinEntry",
    "JoinFile",
    "JoinLog",
    "JoinResult",
    "ModelState",
    "OpenWindow",
    "RunRecord",
    "Store",
    "WindowProfiles",
    "doc_to_profiles",
    "file_id_for",
    "profiles_to_doc",
    "ws_key",
]


class Store(ModelsMixin, FilesMixin, WindowsMixin, PointsMixin, JoinsMixin, AlertsMixin):
    """Driftline's persistent state over one table. Clock and TTLs are passed in, never read from the env."""

    def __init__(
        self, table: Table, *, metrics_retention_days: int = 400, id_retention_days: int = 90, clock: Any = time.time
    ) -> None:
        self.table = table
        self.metrics_ttl = metrics_retention_days * 86_400
        self.id_ttl = id_retention_days * 86_400
        self.clock = clock
