"""Standard cron schedules and the times they fire, as Kubernetes' CronJob controller reads them.

The controller parses ``spec.schedule`` with ``robfig/cron``'s standard parser
(``machinery.cron``, which the API server validates with too); a
``TZ=``/``CRON_TZ=`` prefix names the zone.  ``@every <duration>`` is not a
cron schedule and is refused.

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

from machinery.cron import CronError, load_zone, parse_fields, split_time_zone

__all__ = ["CronError", "CronSchedule", "parse_schedule", "load_zone", "local_zone"]

_SEARCH_YEARS = 5
_MINUTE = timedelta(minutes=1)


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
    name, text = split_time_zone(text)
    if name is not None:
        zone = load_zone(name)
    if text.startswith("@every"):
        raise CronError(f"@every schedules are not supported: {spec}")
    f = parse_fields(text)
    return CronSchedule(f.minutes, f.hours, f.days, f.months, f.weekdays, f.any_day,
                        f.any_weekday, zone)
