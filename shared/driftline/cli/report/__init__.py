"""``driftline report``: one self-contained HTML page of a model's metrics, alerts and errors over a time range.

    data.py           what the page shows, loaded and organised once (``_Data``)
    svg.py            charts and number formatting
    sections.py       the header, the metric charts, segments, alerts, errors
    distributions.py  window-against-baseline distributions
    page.py           loading (``render_report``), the order of the sections, the stylesheet

A new section is a function ``(data) -> list[str]`` of HTML cards, added to ``page.EXTRA_SECTIONS``.
"""

from driftline.cli.report.page import EXTRA_SECTIONS, render_report, render_report_from_data
from driftline.cli.report.svg import ALARM_COLOR, OK_COLOR, PALETTE

__all__ = ["ALARM_COLOR", "EXTRA_SECTIONS", "OK_COLOR", "PALETTE", "render_report", "render_report_from_data"]
