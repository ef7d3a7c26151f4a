"""Every failure prints one kubectl-worded line."""

from __future__ import annotations

import httpx
import pytest

from cli.errors import CliError, format_error, with_source
from machinery import errors


def test_status_errors_read_like_kubectl() -> None:
    assert format_error(errors.NotFound('pods "x" not found')) == \
        'Error from server (NotFound): pods "x" not found'
    err = with_source("creating", "web.yaml",
                      errors.AlreadyExists('deployments.apps "web" already exists'))
    assert format_error(err) == ('Error from server (AlreadyExists): error when creating '
                                 '"web.yaml": deployments.apps "web" already exists')
    assert format_error(errors.Conflict("the object has been modified")) == \
        "Error from server (Conflict): the object has been modified"
    assert format_error(errors.Unauthorized("Unauthorized")) == \
        "error: You must be logged in to the server (Unauthorized)"


def test_status_round_trip_keeps_the_reason() -> None:
    status = errors.Forbidden("nope").to_status()
    status["reason"] = "SomethingNew"
    assert format_error(errors.from_status(status, 403)) == "Error from server (SomethingNew): nope"


def test_invalid_names_the_object_and_its_causes() -> None:
    one = errors.Invalid("ignored", kind="ConfigMap", name="Bad_Name", causes=[
        {"field": "metadata.name", "message": 'Invalid value: "Bad_Name": bad'}])
    assert format_error(one) == \
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": bad'
    two = errors.Invalid("ignored", kind="Deployment", name="web", causes=[
        {"field": "spec.replicas", "message": "must be >= 0"},
        {"field": "spec.selector", "message": "Required value"},
        {"field": "spec.selector", "message": "Required value"}])
    assert format_error(two) == ('The Deployment "web" is invalid: \n'
                                 "* spec.replicas: must be >= 0\n* spec.selector: Required value")
    assert format_error(errors.Invalid("bad thing")) == "The request is invalid: bad thing"


def test_client_errors_get_the_error_prefix() -> None:
    assert format_error(CliError('the path "x.yaml" does not exist')) == \
        'error: the path "x.yaml" does not exist'
    assert format_error(ValueError("error: already prefixed")) == "error: already prefixed"


def test_refused_connection_names_the_server() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:1/api/v1/pods")
    cause = httpx.ConnectError("All connection attempts failed", request=request)
    cause.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    try:
        raise errors.ServiceUnavailable("GET /api/v1/pods: ConnectError") from cause
    except errors.ServiceUnavailable as exc:
        message = format_error(exc)
    assert message == ("The connection to the server 127.0.0.1:1 was refused - "
                       "did you specify the right host or port?")
    unreachable = httpx.ConnectError("Name or service not known", request=request)
    try:
        raise errors.ServiceUnavailable("GET") from unreachable
    except errors.ServiceUnavailable as exc:
        assert format_error(exc) == "Unable to connect to the server: Name or service not known"


@pytest.mark.parametrize("exc", [errors.NotFound("x"), CliError("y"), RuntimeError("z")])
def test_always_one_line(exc: Exception) -> None:
    assert "\n" not in format_error(exc)
