"""channel.k8s.io framing, subprotocol negotiation, exit statuses, query parsing."""

from __future__ import annotations

import pytest

import machinery.streams as streams
from machinery import errors
from machinery.streams import channels
from machinery.streams.portforward import negotiate_portforward_protocol, parse_ports

pytestmark = pytest.mark.timeout(30)


def test_exported_members() -> None:
    for name in streams.__all__:
        assert hasattr(streams, name), name
    assert {"serve_exec", "serve_portforward", "exec_client", "portforward_client", "LocalProcess",
            "StarletteTransport", "negotiate_exec_protocol", "negotiate_portforward_protocol"} <= set(
        streams.__all__)


def test_frames_are_one_channel_byte_then_payload() -> None:
    assert channels.encode_frame(channels.STDOUT, b"hi") == b"\x01hi"
    assert channels.encode_frame(channels.CLOSE, b"\x00") == b"\xff\x00"
    assert channels.decode_frame(b"\x03{}") == (3, b"{}")
    with pytest.raises(ValueError):
        channels.decode_frame(b"")


@pytest.mark.parametrize(("offered", "chosen"), [
    (["v5.channel.k8s.io"], "v5.channel.k8s.io"),                       # kubectl 1.32
    (["v4.channel.k8s.io", "v5.channel.k8s.io"], "v5.channel.k8s.io"),  # server preference wins
    (["v4.channel.k8s.io"], "v4.channel.k8s.io"),                       # kr8s
    (["channel.k8s.io"], "channel.k8s.io"),
    ([], ""),                                                           # legacy: no subprotocol
    (["v4.base64.channel.k8s.io"], None),
    (["SPDY/3.1+portforward.k8s.io"], None),
])
def test_negotiate_exec_protocol(offered: list[str], chosen: str | None) -> None:
    assert streams.negotiate_exec_protocol(offered) == chosen


@pytest.mark.parametrize(("offered", "chosen"), [
    (["SPDY/3.1+portforward.k8s.io"], "SPDY/3.1+portforward.k8s.io"),    # kubectl 1.32
    (["v5.channel.k8s.io", "v4.channel.k8s.io"], "v4.channel.k8s.io"),  # official Python client
    ([], ""),
    (["v5.channel.k8s.io"], None),
])
def test_negotiate_portforward_protocol(offered: list[str], chosen: str | None) -> None:
    assert negotiate_portforward_protocol(offered) == chosen


def test_status_payloads_match_what_kubectl_decodes() -> None:
    v5 = channels.V5_PROTOCOL
    assert channels.status_payload(v5, channels.success_status()) == b'{"metadata":{},"status":"Success"}'
    assert channels.status_payload(v5, channels.exit_code_status(7)) == (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
        b'exit status 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode",'
        b'"message":"7"}]}}')
    # the pre-v4 dialect carries only failure text
    assert channels.status_payload(channels.V1_PROTOCOL, channels.success_status()) is None
    assert channels.status_payload("", channels.failure_status("boom")) == b"boom"


def test_exit_code_from_status_round_trips_and_raises_other_failures() -> None:
    v4 = channels.V4_PROTOCOL
    for code in (0, 1, 7, 137):
        status = channels.success_status() if code == 0 else channels.exit_code_status(code)
        payload = channels.status_payload(v4, status)
        assert payload is not None
        assert channels.exit_code_from_status(v4, payload) == code
    assert channels.exit_code_from_status(v4, b"") == 0
    with pytest.raises(errors.InternalError, match="no such container"):
        channels.exit_code_from_status(v4, channels.status_payload(v4, channels.failure_status(
            "no such container")) or b"")
    with pytest.raises(errors.ApiError, match="went wrong"):
        channels.exit_code_from_status(channels.V1_PROTOCOL, b"went wrong")


def test_exec_options_from_query() -> None:
    options = streams.ExecOptions.from_query([
        ("command", "sh"), ("command", "-c"), ("command", "echo hi"), ("container", "main"),
        ("stdin", "true"), ("stdout", "True"), ("stderr", "false"), ("tty", "false"),
    ])
    assert options == streams.ExecOptions(["sh", "-c", "echo hi"], "main", stdin=True, stdout=True)
    with_tty = streams.ExecOptions.from_query([("command", "sh"), ("stderr", "true"), ("tty", "1")])
    assert with_tty.tty and not with_tty.stderr


def test_parse_ports() -> None:
    assert parse_ports(["80,443", "8080"]) == [80, 443, 8080]
    for bad in (["http"], ["0"], ["70000"], [""]):
        with pytest.raises(ValueError):
            parse_ports(bad)
