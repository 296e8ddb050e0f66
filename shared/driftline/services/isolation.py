"""The evaluator's blast radius: a model or a window that cannot be judged is reported once and set aside.

SPEC §4: "A window or model that the evaluator cannot judge is reported once with ``metric: evaluate.error``
(severity ``critical``, the reason in ``details``); the other models and windows are judged as usual." The
evaluator calls :meth:`EvaluateErrors.window` / :meth:`EvaluateErrors.model` from a ``try``/``except`` around each
model and each window; what they report is an error record (``driftline errors``) and an ``evaluate.error`` alert.

- A window: reported under its window start (the alert history key names the window, so a second report of the same
  window is not published again), then *quarantined*: its dirty mark is cleared, so it is not retried every tick. A
  later file or label in that window marks it dirty again and it is tried again (it heals once what broke it is
  fixed, e.g. a new baseline or a new release).
- A model: reported once per distinct reason (the reason last reported is kept in the model's state), so a model that
  fails every tick for the same reason alerts once, and again when the reason changes.

Errors that trying again may fix (throttling, a network failure: a retryable :class:`StorageError`) are not reported:
the window stays dirty and the next tick tries again; the run running out of time or memory ends the run. A failure
of the report itself is logged and leaves the window dirty (the next tick reports it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from driftline.core.errors import StorageError
from driftline.core.metrics import iso_utc
from driftline.services.alerts import Alert, AlertPublisher
from driftline.services.store import Store

log = logging.getLogger(__name__)

RULE = "evaluate-error"
METRIC = "evaluate.error"
MAX_REASON = 400


def transient(err: BaseException) -> bool:
    """Whether trying again may help (the next tick will): a retryable storage or messaging failure, or the run
    itself running out of time or memory (:func:`fatal`)."""
    return (isinstance(err, StorageError) and err.retryable) or fatal(err)


def fatal(err: BaseException) -> bool:
    """The run itself cannot go on (out of time or memory): the error ends the run, as it would on Lambda."""
    return isinstance(err, TimeoutError | MemoryError)


def describe(err: BaseException) -> str:
    """The reason of an evaluator failure: its type and message, shortened."""
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


class EvaluateErrors:
    def __init__(self, store: Store, alerts: AlertPublisher, *, clock: Callable[[], float]) -> None:
        self.store = store
        self.alerts = alerts
        self.clock = clock

    def window(
        self, model_id: str, window_start: int, width: int, token: str | None, err: BaseException, *, now: float
    ) -> str:
        """Report a window that could not be judged, then quarantine it (clear its dirty mark). Returns the reason."""
        reason = f"window {iso_utc(window_start)} could not be judged: {describe(err)}"
        log.error("window not evaluated", extra={"model_id": model_id, "window_start": window_start, "reason": reason})
        key = f"evaluate/{model_id}/{iso_utc(window_start)}"
        if self._report(model_id, reason, key, window_start, width, now) and token is not None:
            self.store.clear_dirty(model_id, window_start, token)
        return reason

    def model(self, model_id: str, err: BaseException, *, now: float) -> str:
        """Report a model that could not be evaluated, once per distinct reason. Returns the reason."""
        reason = f"model could not be evaluated: {describe(err)}"
        log.error("model not evaluated", extra={"model_id": model_id, "reason": reason})
        try:
            last = self.store.get_state(model_id).evaluate_error
        except Exception:  # the store itself may be what failed
            log.exception("model state not readable", extra={"model_id": model_id})
            return reason
        if last != reason and self._report(model_id, reason, f"evaluate/{model_id}", None, None, now):
            try:
                self.store.update_state(model_id, evaluate_error=reason)
            except Exception:
                log.exception("model state not writable", extra={"model_id": model_id})
        return reason

    def _report(
        self, model_id: str, reason: str, key: str, window_start: int | None, width: int | None, now: float
    ) -> bool:
        error_id = key.replace("/", "-")
        try:
            self.store.record_error(model_id, key=key, file_id=error_id, reason=reason, at=now)
            self.alerts.publish(
                Alert(
                    model_id=model_id,
                    rule=RULE,
                    state="ALARM",
                    severity="critical",
                    metric=METRIC,
                    window_start=window_start,
                    window_end=None if window_start is None or width is None else window_start + width,
                    evaluated_at=now,
                    details={"reason": reason, "key": key},
                )
            )
        except Exception:  # reporting must not stop the run; the next tick reports again
            log.exception("evaluate.error not reported", extra={"model_id": model_id})
            return False
        return True
