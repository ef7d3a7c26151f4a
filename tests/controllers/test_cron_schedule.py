"""Cron syntax, next firing times (zones, DST) and the CronJob controller's unmet-time search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from controllers.cronjob.schedule import CronError, load_zone, parse_schedule
from controllers.cronjob.timing import (
    SCHEDULED_TIMESTAMP,
    earliest_time,
    job_for,
    job_name,
    next_delay,
    rfc3339_in,
    unmet,
)

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else \
        datetime.fromisoformat(text)


def firings(spec: str, start: str, count: int, zone: str = "UTC") -> list[str]:
    schedule = parse_schedule(spec, load_zone(zone))
    out, moment = [], at(start)
    for _ in range(count):
        found = schedule.next(moment)
        assert found is not None
        out.append(found.strftime("%Y-%m-%d %H:%M"))
        moment = found
    return out


@pytest.mark.parametrize(("spec", "start", "expected"), [
    ("*/15 * * * *", "2024-01-01T10:07:00", ["2024-01-01 10:15", "2024-01-01 10:30",
                                              "2024-01-01 10:45"]),
    ("* * * * *", "2024-01-01T10:07:59", ["2024-01-01 10:08", "2024-01-01 10:09",
                                           "2024-01-01 10:10"]),
    ("0 9-17/4 * * mon-fri", "2024-01-05T12:00:00", ["2024-01-05 13:00", "2024-01-05 17:00",
                                                      "2024-01-08 09:00"]),
    ("5,35 */12 * * *", "2024-01-01T00:10:00", ["2024-01-01 00:35", "2024-01-01 12:05",
                                                 "2024-01-01 12:35"]),
    ("0 0 1 JAN,jul *", "2024-02-01T00:00:00", ["2024-07-01 00:00", "2025-01-01 00:00",
                                                 "2025-07-01 00:00"]),
    ("30 1 10/10 * *", "2024-02-15T00:00:00", ["2024-02-20 01:30", "2024-03-10 01:30",
                                                "2024-03-20 01:30"]),
    ("0 0 29 2 *", "2024-03-01T00:00:00", ["2028-02-29 00:00", "2032-02-29 00:00",
                                            "2036-02-29 00:00"]),
])
def test_fields_lists_ranges_steps_and_names(spec: str, start: str, expected: list[str]) -> None:
    assert firings(spec, start, 3) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    ("@hourly", "2024-01-03 11:00"), ("@daily", "2024-01-04 00:00"),
    ("@midnight", "2024-01-04 00:00"), ("@weekly", "2024-01-07 00:00"),
    ("@monthly", "2024-02-01 00:00"), ("@yearly", "2025-01-01 00:00"),
    ("@annually", "2025-01-01 00:00"),
])
def test_descriptors(spec: str, expected: str) -> None:
    assert firings(spec, "2024-01-03T10:20:00", 1) == [expected]  # a Wednesday


def test_day_of_month_and_weekday_combine_as_in_cron() -> None:
    # Both restricted: either may match (the 13th, and every Friday).
    assert firings("0 0 13 * fri", "2024-09-01T00:00:00", 4) == [
        "2024-09-06 00:00", "2024-09-13 00:00", "2024-09-20 00:00", "2024-09-27 00:00"]
    assert firings("0 0 13 * 1", "2024-09-01T00:00:00", 3) == [
        "2024-09-02 00:00", "2024-09-09 00:00", "2024-09-13 00:00"]
    # A '*' day of month: the weekday alone decides.
    assert firings("0 0 * * 0", "2024-09-01T00:00:00", 2) == [
        "2024-09-08 00:00", "2024-09-15 00:00"]


def test_time_zones_and_their_daylight_saving_changes() -> None:
    assert firings("0 9 * * *", "2024-01-10T00:00:00", 1, "America/New_York") == [
        "2024-01-10 14:00"]
    assert firings("0 9 * * *", "2024-07-10T00:00:00", 1, "America/New_York") == [
        "2024-07-10 13:00"]
    # 02:30 does not exist on 2024-03-31 in Berlin: that day is skipped.
    assert firings("30 2 * * *", "2024-03-30T12:00:00", 2, "Europe/Berlin") == [
        "2024-04-01 00:30", "2024-04-02 00:30"]
    # 02:30 happens twice on 2024-10-27: the job runs once.
    assert firings("30 2 * * *", "2024-10-26T12:00:00", 2, "Europe/Berlin") == [
        "2024-10-27 00:30", "2024-10-28 01:30"]
    assert firings("TZ=Asia/Tokyo 0 9 * * *", "2024-01-10T00:00:00", 1) == ["2024-01-11 00:00"]


@pytest.mark.parametrize("spec", [
    "", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
    "* * * * 7", "*/0 * * * *", "5-1 * * * *", "1-2-3 * * * *", "*/2/3 * * * *",
    "x * * * *", "@every 5m", "@fortnightly", "TZ=Nowhere/Land * * * * *",
])
def test_malformed_schedules_are_refused(spec: str) -> None:
    with pytest.raises(CronError):
        parse_schedule(spec, UTC)


def test_impossible_dates_never_fire() -> None:
    assert parse_schedule("0 0 30 2 *", UTC).next(at("2024-01-01T00:00:00")) is None


def test_unknown_zones_are_refused() -> None:
    for name in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(CronError):
            load_zone(name)
    assert load_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


# -- unmet times ----------------------------------------------------------------------


def test_nothing_due_before_the_first_time() -> None:
    schedule = parse_schedule("*/5 * * * *", UTC)
    due = unmet(schedule, at("2024-01-01T10:00:00"), at("2024-01-01T10:04:59"))
    assert due.latest is None and due.count == 0


def test_the_most_recent_of_a_few_missed_times_is_due() -> None:
    schedule = parse_schedule("*/5 * * * *", UTC)
    due = unmet(schedule, at("2024-01-01T10:00:00"), at("2024-01-01T10:17:00"))
    assert due.latest == at("2024-01-01T10:15:00") and due.count == 3
    exact = unmet(schedule, at("2024-01-01T10:00:00"), at("2024-01-01T10:05:00"))
    assert exact.latest == at("2024-01-01T10:05:00") and exact.count == 1


def test_many_missed_times_still_find_the_most_recent_quickly() -> None:
    weekdays = parse_schedule("0 9 * * 1-5", UTC)
    due = unmet(weekdays, at("2023-01-01T00:00:00"), at("2024-01-08T08:00:00"))  # a Monday
    assert due.count > 100
    assert due.latest == at("2024-01-05T09:00:00")  # the Friday before
    minutely = parse_schedule("* * * * *", UTC)
    due = unmet(minutely, at("2000-01-01T00:00:00"), at("2024-01-08T08:00:30"))
    assert due.latest == at("2024-01-08T08:00:00") and due.count > 100


def cronjob(**spec: object) -> dict[str, object]:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "uid": "uid-tick",
                         "creationTimestamp": "2024-01-01T10:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", **spec}, "status": {}}


def test_starting_deadline_moves_the_search_start_forward() -> None:
    now = at("2024-01-01T12:00:30")
    assert earliest_time(cronjob(), now, with_deadline=True) == at("2024-01-01T10:00:00")
    late = cronjob(startingDeadlineSeconds=60)
    assert earliest_time(late, now, with_deadline=True) == now - timedelta(seconds=60)
    assert earliest_time(late, now, with_deadline=False) == at("2024-01-01T10:00:00")


def test_the_next_wake_up_follows_the_latest_due_time() -> None:
    schedule = parse_schedule("*/5 * * * *", UTC)
    assert next_delay(cronjob(), schedule, at("2024-01-01T10:01:00")) == pytest.approx(240.1)
    assert next_delay(cronjob(), schedule, at("2024-01-01T10:12:00")) == pytest.approx(180.1)


def test_the_job_of_a_run() -> None:
    cj = cronjob(jobTemplate={"metadata": {"labels": {"app": "tick"},
                                           "annotations": {"note": "x"}},
                              "spec": {"template": {"spec": {"containers": []}}}})
    scheduled = at("2024-01-01T10:05:00")
    made = job_for(cj, scheduled, ZoneInfo("Europe/Berlin"))
    assert made["metadata"]["name"] == job_name(cj, scheduled) == "tick-28401725"
    assert made["metadata"]["labels"] == {"app": "tick"}
    assert made["metadata"]["annotations"] == {"note": "x",
                                               SCHEDULED_TIMESTAMP: "2024-01-01T11:05:00+01:00"}
    [ref] = made["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("CronJob", "uid-tick", True)
    assert made["spec"] == {"template": {"spec": {"containers": []}}}
    assert rfc3339_in(scheduled, UTC) == "2024-01-01T10:05:00Z"
