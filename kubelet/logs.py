"""Container logs as the kubelet serves them: the query, the instance, the byte stream.

``GET /containerLogs/<ns>/<pod>/<container>`` carries the API server's
``PodLogOptions`` (``follow``, ``tailLines``, ``sinceSeconds``, ``sinceTime``,
``timestamps``, ``previous``, ``limitBytes``). They are validated as the API
server validates them, then mapped onto Docker's log endpoint; Docker's
timestamp prefix is already the kubelet's fixed-width RFC 3339 form
(``2006-01-02T15:04:05.000000000Z``), so lines pass through unchanged.
``previous`` reads the last dead instance of the container, which the
kubelet's housekeeping keeps for exactly this.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from kubelet.runtime import ContainerInfo, DockerError
from kubelet.streams import DockerEndpoint, FrameDecoder
from machinery import errors
from machinery.meta import parse_time

__all__ = ["LogOptions", "pick_instance", "LogStream"]

_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


def _bool(name: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``, which is how the kubelet reads these flags."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE or lowered == "":
        return False
    raise errors.BadRequest(f'invalid value "{value}" for {name}: expected a boolean')


def _int(name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f'invalid value "{value}" for {name}: expected an integer') from None


def _invalid(field: str, value: object, message: str) -> errors.Invalid:
    return errors.Invalid(f"{field}: Invalid value: {value}: {message}", kind="PodLogOptions",
                          causes=[{"reason": "FieldValueInvalid", "field": field,
                                   "message": f"Invalid value: {value}: {message}"}])


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LogOptions:
        """Parse and validate (``ValidatePodLogOptions``); bad input raises a 400/422 ``ApiError``."""
        since_time: datetime | None = None
        if query.get("sinceTime"):
            try:
                since_time = parse_time(query["sinceTime"])
            except ValueError:
                raise errors.BadRequest(
                    f'invalid value "{query["sinceTime"]}" for sinceTime: expected RFC 3339') from None
        options = cls(
            follow=_bool("follow", query.get("follow", "")),
            tail_lines=_int("tailLines", query.get("tailLines")),
            since_seconds=_int("sinceSeconds", query.get("sinceSeconds")),
            since_time=since_time,
            timestamps=_bool("timestamps", query.get("timestamps", "")),
            previous=_bool("previous", query.get("previous", "")),
            limit_bytes=_int("limitBytes", query.get("limitBytes")))
        if options.tail_lines is not None and options.tail_lines < 0:
            raise _invalid("tailLines", options.tail_lines, "must be greater than or equal to 0")
        if options.limit_bytes is not None and options.limit_bytes < 1:
            raise _invalid("limitBytes", options.limit_bytes, "must be greater than 0")
        if options.since_seconds is not None:
            if options.since_time is not None:
                raise errors.BadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
            if options.since_seconds < 1:
                raise _invalid("sinceSeconds", options.since_seconds, "must be greater than 0")
        return options

    def docker_params(self, now: float | None = None) -> dict[str, str]:
        """The query of Docker's ``GET /containers/<id>/logs`` for these options."""
        params = {"stdout": "1", "stderr": "1", "follow": str(int(self.follow)),
                  "timestamps": str(int(self.timestamps))}
        if self.tail_lines is not None:
            params["tail"] = str(self.tail_lines)
        since: float | None = None
        if self.since_seconds is not None:
            since = (time.time() if now is None else now) - self.since_seconds
        elif self.since_time is not None:
            since = self.since_time.timestamp()
        if since is not None:
            params["since"] = f"{max(since, 0.0):.9f}"
        return params


def pick_instance(instances: Sequence[ContainerInfo], options: LogOptions, pod: str,
                  container: str, waiting_reason: str = "") -> ContainerInfo:
    """The container instance whose logs are wanted (``instances`` newest first).

    Errors are the kubelet's own (``validateContainerLogStatus``): a container
    that never ran is "waiting to start", and ``previous`` needs an instance
    before the newest one.
    """
    if options.previous:
        if len(instances) < 2:
            raise errors.BadRequest(
                f'previous terminated container "{container}" in pod "{pod}" not found')
        return instances[1]
    if not instances or (instances[0].state == "created" and not instances[0].exited):
        reason = waiting_reason or "ContainerCreating"
        raise errors.BadRequest(
            f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
    return instances[0]


class LogStream:
    """An open Docker log response; ``open`` fails before the client sees a 200."""

    def __init__(self, response: httpx.Response, tty: bool, limit_bytes: int | None) -> None:
        self._response = response
        self._tty = tty
        self._remaining = limit_bytes

    @classmethod
    async def open(cls, client: httpx.AsyncClient, endpoint: DockerEndpoint,
                   instance: ContainerInfo, options: LogOptions) -> LogStream:
        tty = bool((instance.raw.get("Config") or {}).get("Tty"))
        request = client.build_request("GET", f"{endpoint.prefix}/containers/{instance.id}/logs",
                                       params=options.docker_params())
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise DockerError(f"reading logs from Docker: {exc}") from exc
        if response.status_code >= 400:
            body = (await response.aread()).decode(errors="replace")
            await response.aclose()
            raise DockerError(f"reading logs from Docker: {body.strip()}")
        return cls(response, tty, options.limit_bytes)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The log bytes, stdout and stderr interleaved as written, until the end or the limit."""
        decoder = FrameDecoder()
        try:
            async for raw in self._response.aiter_raw():
                payloads = [raw] if self._tty else [p for _, p in decoder.feed(raw)]
                for payload in payloads:
                    if self._remaining is not None:
                        payload = payload[:self._remaining]
                        self._remaining -= len(payload)
                    if payload:
                        yield payload
                    if self._remaining == 0:
                        return
        except httpx.HTTPError:
            return  # Docker went away mid-stream; what was sent stays sent
        finally:
            await self._response.aclose()

    async def aclose(self) -> None:
        await self._response.aclose()
