"""The standard cron grammar, as ``robfig/cron/v3``'s ``ParseStandard`` reads it.

Kubernetes parses ``CronJob.spec.schedule`` with that library twice: the API
server to validate it (returning the parser's error text verbatim) and the
CronJob controller to compute firings.  Both use this one parser: five fields
(minute, hour, day of month, month, day of week) of lists, ranges, ``*``/``?``,
steps and month/weekday names, the ``@hourly``-style descriptors, and a
``TZ=``/``CRON_TZ=`` prefix naming the zone.  ``@every <duration>`` is left
to the callers: the API server accepts it, the controller does not run it.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import timezone, tzinfo

__all__ = ["CronError", "CronFields", "parse_fields", "split_time_zone", "load_zone"]

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (lowest, highest, names) per field, in field order.
_BOUNDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
               "@hourly": "0 * * * *"}
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_MAX_INT64 = 2 ** 63 - 1


class CronError(ValueError):
    """The schedule or its zone cannot be used; the text is the parser's own."""


@dataclass(frozen=True)
class CronFields:
    """The values each field allows; ``any_day``/``any_weekday``: that field was a bare
    ``*`` or ``?`` (robfig's star bit, which decides how the two day fields combine)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool


def load_zone(name: str) -> tzinfo:
    """A zone by IANA name (``UTC`` included), or CronError in Go's words."""
    if name == "UTC":
        return timezone.utc
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise CronError(f"unknown time zone {name}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


def split_time_zone(spec: str) -> tuple[str | None, str]:
    """The zone a ``TZ=``/``CRON_TZ=`` prefix names (None without one), and the rest."""
    if not spec.startswith(("TZ=", "CRON_TZ=")):
        return None, spec
    space, equals = spec.find(" "), spec.find("=")
    if space > equals:
        return spec[equals + 1:space], spec[space:].strip()
    return spec[equals + 1:], ""


def _parse_int(expr: str) -> int:
    if not _INT_RE.match(expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": '
                        "invalid syntax")
    number = int(expr)
    if abs(number) > _MAX_INT64:
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": '
                        "value out of range")
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {expr}")
    return number


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _parse_int(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[range, bool]:
    """One comma-separated part of a field: its values, and whether it set the star bit."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = low_and_high[0] in ("*", "?")
    if star:
        start, end = lo, hi
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:
            end = hi
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return range(start, end + 1, step), star and step == 1


def parse_fields(text: str) -> CronFields:
    """The five fields of ``text`` (a descriptor, or five space-separated fields; no zone
    prefix), or CronError.  ``@every`` is an unrecognized descriptor here."""
    if text.startswith("@"):
        if text not in DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed: list[tuple[frozenset[int], bool]] = []
    for field, (lo, hi, names) in zip(fields, _BOUNDS):
        values: set[int] = set()
        star = False
        for expr in field.split(","):
            allowed, starred = _range(expr, lo, hi, names)
            values.update(allowed)
            star = star or starred
        parsed.append((frozenset(values), star))
    (minutes, _), (hours, _), (days, any_day), (months, _), (weekdays, any_weekday) = parsed
    return CronFields(minutes, hours, days, months, weekdays, any_day, any_weekday)
