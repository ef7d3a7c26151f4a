"""Cron schedule syntax, as ``robfig/cron/v3``'s ``ParseStandard`` accepts it.

Kubernetes validates ``CronJob.spec.schedule`` by parsing it with that library
and returns the parser's error text verbatim, so this module reproduces both
the grammar (five fields, names, ranges, steps, ``@hourly``-style descriptors,
a ``TZ=``/``CRON_TZ=`` prefix) and the error messages.
"""

from __future__ import annotations

import re
import zoneinfo

__all__ = ["schedule_error", "time_zone_error"]

_FIELDS = (  # (min, max, names)
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_DURATION_RE = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_MAX_INT64 = 2 ** 63 - 1


class _CronError(Exception):
    pass


def _parse_int(expr: str) -> int:
    if not _INT_RE.match(expr):
        raise _CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": '
                         "invalid syntax")
    number = int(expr)
    if abs(number) > _MAX_INT64:
        raise _CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": '
                         "value out of range")
    if number < 0:
        raise _CronError(f"negative number ({number}) not allowed: {expr}")
    return number


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _parse_int(expr)


def _check_range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:
            end = hi
    else:
        raise _CronError(f"too many slashes: {expr}")
    if start < lo:
        raise _CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise _CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")


def _location_error(name: str) -> str | None:
    if not name or name.startswith("/") or ".." in name.split("/"):
        return f"unknown time zone {name}"
    if name in ("UTC", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return None


def schedule_error(spec: str) -> str | None:
    """The parser's error for ``spec``, or None when it parses."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space, equals = spec.find(" "), spec.find("=")
        name = spec[equals + 1:space] if space > equals else spec[equals + 1:]
        problem = _location_error(name)
        if problem:
            return f"provided bad location {name}: {problem}"
        spec = spec[space:].strip() if space > equals else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            duration = spec[len("@every "):]
            if _DURATION_RE.match(duration):
                return None
            return f'failed to parse duration {spec}: time: invalid duration "{duration}"'
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        for text, (lo, hi, names) in zip(fields, _FIELDS):
            for expr in text.split(","):
                _check_range(expr, lo, hi, names)
    except _CronError as err:
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
