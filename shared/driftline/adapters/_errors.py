"""Translating botocore errors into the project's own, once for every adapter (habit 3: errors translated at
the edge, named by what failed)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import urllib3.exceptions
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

from driftline.core.errors import StorageError

Special = Mapping[str, Callable[[str], StorageError]]  # error code -> the error to raise, given the message

# The connection failed: refused, reset or timed out, or a body ended before its announced length (botocore's
# IncompleteReadError); and urllib3's own errors, should one get past botocore while a body is read. Trying again
# may help.
TRANSIENT = (ConnectionError, HTTPClientError, IncompleteReadError, urllib3.exceptions.HTTPError)


def error_code(err: ClientError) -> tuple[str, str]:
    """(code, message) of a ClientError."""
    error = err.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", err))


def translate(
    err: Exception, where: str, *, retryable: Collection[str], special: Special | None = None
) -> StorageError:
    """A StorageError that names ``where``: ``special`` codes first, then the service's ``retryable`` codes
    (throttling, 5xx) and failures of the connection (``TRANSIENT``) as retryable, anything else as final."""
    if isinstance(err, ClientError):
        code, message = error_code(err)
        if special and code in special:
            return special[code](message)
        if code in retryable:
            return StorageError(f"{where}: {code}: {message}", retryable=True)
        return StorageError(f"{where}: {code}: {message}")
    if isinstance(err, TRANSIENT):
        return StorageError(f"{where}: {type(err).__name__}: {err}", retryable=True)
    return StorageError(f"{where}: {type(err).__name__}: {err}")
