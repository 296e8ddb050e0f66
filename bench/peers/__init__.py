"""``make bench-peers`` (``python -m bench.peers``): the same drift job with Driftline and its peers.

Evidently, whylogs and NannyML each run in their own virtual environment under ``bench/.peers/`` (never a
project dependency); see ``bench/peers/README.md``. The job scripts (``<tool>_job.py``) are plain scripts run
by those environments' Pythons, so that they import nothing from the project but what the job needs.
"""
