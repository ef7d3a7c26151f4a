"""Cron schedule syntax, as ``robfig/cron/v3``'s ``ParseStandard`` accepts it.

Kubernetes validates ``CronJob.spec.schedule`` by parsing it with that library
and returns the parser's error text verbatim; ``machinery.cron`` is the grammar
and its messages (shared with the CronJob controller), and this module adds
what only validation does: ``@every`` durations and the zone rules.
"""

from __future__ import annotations

import re

from machinery.cron import CronError, load_zone, parse_fields, split_time_zone

__all__ = ["schedule_error", "time_zone_error"]

_DURATION_RE = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$")


def _location_error(name: str) -> str | None:
    if name == "Local":
        return None
    try:
        load_zone(name)
    except CronError as err:
        return str(err)
    return None


def schedule_error(spec: str) -> str | None:
    """The parser's error for ``spec``, or None when it parses."""
    if not spec:
        return "empty spec string"
    name, spec = split_time_zone(spec)
    if name is not None:
        problem = _location_error(name)
        if problem:
            return f"provided bad location {name}: {problem}"
    if spec.startswith("@every "):
        duration = spec[len("@every "):]
        if _DURATION_RE.match(duration):
            return None
        return f'failed to parse duration {spec}: time: invalid duration "{duration}"'
    try:
        parse_fields(spec)
    except CronError as err:
        return str(err)
    return None


_TZ_PART_RE = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def time_zone_error(name: str) -> str | None:
    """Why ``spec.timeZone`` is unacceptable, in ``validateTimeZone``'s words."""
    if not name:
        return "timeZone must be nil or non-empty string"
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART_RE.match(part):
            return f"unknown time zone {name}"
    if name.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    if name == "UTC":
        return None
    return _location_error(name)
