"""How the CLI reports failure: one message per error, worded as kubectl words it.

Scripts and people grep kubectl's messages, so a Status error from the server
prints as kubectl's ``StandardErrorMessage`` does (``Error from server
(NotFound): pods "x" not found``), an ``Invalid`` one as its ``checkErr`` does
(``The ConfigMap "x" is invalid: field: message``), and anything the client
itself refuses as ``error: ...``.  No path through ``main`` shows a traceback.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from machinery import errors

__all__ = ["CliError", "format_error", "with_source"]


class CliError(Exception):
    """A failure detected on the client side; printed as ``error: <message>``."""


def _invalid_message(err: errors.ApiError) -> str:
    if not (err.kind or err.name):
        if err.causes:
            head = "The request is invalid"
        else:
            return f"The request is invalid: {err.message}" if err.message else "The request is invalid"
    else:
        head = f'The {err.kind or ""} "{err.name or ""}" is invalid'
    if not err.causes:
        return head
    seen: list[str] = []
    for cause in err.causes:
        line = f"{cause.get('field', '')}: {cause.get('message', '')}"
        if line not in seen:
            seen.append(line)
    if len(seen) == 1:
        return f"{head}: {seen[0]}"
    return f"{head}: \n" + "\n".join(f"* {line}" for line in seen)


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # the refusal hides a few links down httpx's exception chain
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _connection_message(err: errors.ApiError) -> str | None:
    """kubectl's wording for a server it could not reach, found from the chained cause."""
    cause = err.__cause__
    if cause is None:
        return None
    import httpx  # already loaded whenever a transport error exists

    if isinstance(cause, httpx.ConnectError):
        try:
            url = str(cause.request.url)
        except RuntimeError:  # raised by httpx when no request is attached
            url = ""
        host = urlsplit(url).netloc or url
        if _refused(cause):
            return (f"The connection to the server {host} was refused - "
                    "did you specify the right host or port?")
        return f"Unable to connect to the server: {cause}"
    if isinstance(cause, httpx.TimeoutException):
        return "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded)"
    if isinstance(cause, httpx.TransportError):
        return f"Unable to connect to the server: {cause}"
    return None


def format_error(exc: BaseException) -> str:
    """The message kubectl would print for ``exc`` (without the trailing newline)."""
    if isinstance(exc, errors.ApiError):
        connection = _connection_message(exc)
        if connection is not None:
            return connection
        if exc.reason == "Invalid" and exc.code == 422:
            return _invalid_message(exc)
        if exc.reason == "Unauthorized":
            return f"error: You must be logged in to the server ({exc.message})"
        if exc.reason:
            return f"Error from server ({exc.reason}): {exc.message}"
        return f"Error from server: {exc.message}"
    message = str(exc) or type(exc).__name__
    return message if message.startswith("error: ") else f"error: {message}"


def with_source(verb: str, source: str, exc: errors.ApiError) -> errors.ApiError:
    """Prefix a server error with the file it came from, as kubectl's AddSourceToErr does."""
    if source:
        exc.message = f'error when {verb} "{source}": {exc.message}'
        exc.args = (exc.message,)
    return exc
