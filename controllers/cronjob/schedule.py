"""Standard cron schedules and the times they fire, as Kubernetes' CronJob controller reads them.

The controller parses ``spec.schedule`` with ``robfig/cron``'s standard parser:
five fields (minute, hour, day of month, month, day of week) of lists,
ranges, ``*``/``?``, steps and month/weekday names, or one of the
descriptors ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``,
``@daily`` (``@midnight``) and ``@hourly``; a ``TZ=``/``CRON_TZ=`` prefix
names the zone.  ``@every <duration>`` is not a cron schedule and is refused.

Day of month and day of week combine as in cron: when either field is a
plain ``*`` both must match, otherwise either may.  Times are computed on
the wall clock of the schedule's zone (``spec.timeZone``, else the
controller's local zone) with ``zoneinfo``: a time skipped by a DST change
never fires, a repeated one fires once.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

__all__ = ["CronError", "CronSchedule", "parse_schedule", "load_zone", "local_zone"]

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (lowest, highest, names) per field, in field order.
_BOUNDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@hourly": "0 * * * *"}
_SEARCH_YEARS = 5
_MINUTE = timedelta(minutes=1)


class CronError(ValueError):
    """The schedule or its zone cannot be used."""


def load_zone(name: str) -> tzinfo:
    """A zone by IANA name (``UTC`` included), or CronError."""
    if name == "UTC":
        return timezone.utc
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise CronError(f"unknown time zone {name}")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


def local_zone() -> tzinfo:
    """The process's zone, as Go's ``time.Local``: ``$TZ``, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return load_zone(name)
        except CronError:
            return timezone.utc
    try:
        with open("/etc/localtime", "rb") as fh:
            return zoneinfo.ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return timezone.utc


def _number(text: str, names: dict[str, int] | None, field: str) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: {field}")
    return int(text)


def _field(text: str, lo: int, hi: int,
           names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it was a bare ``*``/``?`` (robfig's star bit)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        if "/" in step_text:
            raise CronError(f"too many slashes: {part}")
        step = _number(step_text, None, part) if slash else 1
        if step == 0:
            raise CronError(f"step of range should be a positive number: {part}")
        if span in ("*", "?"):
            start, end = lo, hi
            star = star or step == 1
        else:
            first, dash, last = span.partition("-")
            if "-" in last:
                raise CronError(f"too many hyphens: {part}")
            start = _number(first, names, part)
            end = _number(last, names, part) if dash else (hi if slash else start)
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {part}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule; ``next`` gives the first firing strictly after a moment."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month was a bare '*'
    any_weekday: bool  # day of week was a bare '*'
    zone: tzinfo

    def _day_matches(self, day: date) -> bool:
        by_date = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday

    def next(self, after: datetime) -> datetime | None:
        """The first firing after ``after`` (aware), in UTC; None if none within five years."""
        start = after.astimezone(self.zone)
        wall = start.replace(tzinfo=None, second=0, microsecond=0) + _MINUTE
        limit = wall.year + _SEARCH_YEARS
        while wall.year <= limit:
            if wall.month not in self.months:
                first = wall.replace(day=1, hour=0, minute=0)
                wall = (first + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(wall.date()):
                wall = wall.replace(hour=0, minute=0) + timedelta(days=1)
            elif wall.hour not in self.hours:
                wall = wall.replace(minute=0) + timedelta(hours=1)
            elif wall.minute not in self.minutes:
                wall += _MINUTE
            else:
                moment = wall.replace(tzinfo=self.zone)
                real = moment.astimezone(timezone.utc).astimezone(self.zone).replace(
                    tzinfo=None) == wall
                if real and moment > after:  # skipped by DST, or the repeat of a fall-back hour
                    return moment.astimezone(timezone.utc)
                wall += _MINUTE
        return None


def parse_schedule(spec: str, zone: tzinfo) -> CronSchedule:
    """Parse ``spec``; a ``TZ=``/``CRON_TZ=`` prefix overrides ``zone``."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, text = text.partition(" ")
        zone = load_zone(prefix.split("=", 1)[1])
        text = text.strip()
    if text.startswith("@every"):
        raise CronError(f"@every schedules are not supported: {spec}")
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    parsed = [_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, _BOUNDS)]
    (minutes, _), (hours, _), (days, any_day), (months, _), (weekdays, any_weekday) = parsed
    return CronSchedule(minutes, hours, days, months, weekdays, any_day, any_weekday, zone)
