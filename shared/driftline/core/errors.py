"""The project's exceptions: one base type, messages that name the file, key or column at fault."""

from __future__ import annotations


class DriftlineError(Exception):
    """Base of every error Driftline raises on purpose."""


class ConfigError(DriftlineError):
    """A model configuration is invalid. ``errors`` lists one message per problem, each naming its key."""

    def __init__(self, errors: list[str], *, source: str | None = None) -> None:
        self.errors = list(errors)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.errors))


class InputError(DriftlineError):
    """A data file cannot be processed at all (unreadable, wrong format, required column missing)."""

    def __init__(self, reason: str, *, key: str | None = None) -> None:
        self.reason = reason
        self.key = key
        super().__init__(f"{key}: {reason}" if key else reason)


class BaselineError(DriftlineError):
    """A baseline is missing, empty, or does not fit the data it is used with."""


class StorageError(DriftlineError):
    """A storage or messaging operation failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class NotReadyError(DriftlineError):
    """Something a file needs is not there yet (the model's config or baseline): retry later, don't fail."""
