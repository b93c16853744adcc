"""The working calendar: how many hours of human work fit between two instants.

Simulation time is in hours from Monday 00:00 of week 0. People work
``hours_per_day`` hours from ``day_start_hour`` on the first ``days_per_week`` days of
each week. Both directions are O(1): ``working_hours_until(t)`` counts working hours
from time 0 to ``t``; its inverse finds the instant a given amount of work is done.
"""

from __future__ import annotations

import math

HOURS_PER_DAY = 24.0
HOURS_PER_WEEK = 168.0


def around_the_clock(working_hours: float) -> float:
    """Clock hours taken by ``working_hours`` of work done around the clock (on call, during an incident).

    The one place where effort becomes clock time without the working calendar: a
    person paged for an incident works until it is done, whatever the hour.
    """
    return working_hours


class WorkingCalendar:
    """Working hours for people; a disabled calendar is the identity (work around the clock).

    Parameters
    ----------
    enabled : bool
        False: every hour is a working hour.
    hours_per_day : float
        Working hours per working day, hours.
    days_per_week : int
        Working days per week, Monday first, days.
    day_start_hour : float
        Clock hour the working day starts, hours after midnight.
    """

    __slots__ = ("enabled", "hours_per_day", "days_per_week", "day_start_hour", "_hours_per_week")

    def __init__(self, enabled: bool = True, hours_per_day: float = 8.0, days_per_week: int = 5, day_start_hour: float = 9.0) -> None:
        self.enabled = enabled
        self.hours_per_day = hours_per_day
        self.days_per_week = days_per_week
        self.day_start_hour = day_start_hour
        self._hours_per_week = hours_per_day * days_per_week

    def working_hours_until(self, t: float) -> float:
        """Working hours from time 0 to ``t``, hours."""
        if not self.enabled:
            return t
        weeks = math.floor(t / HOURS_PER_WEEK)
        in_week = t - weeks * HOURS_PER_WEEK
        day = int(in_week // HOURS_PER_DAY)
        total = weeks * self._hours_per_week
        if day >= self.days_per_week:
            return total + self._hours_per_week
        total += day * self.hours_per_day
        into_day = in_week - day * HOURS_PER_DAY - self.day_start_hour
        # min(max(into_day, 0.0), hours_per_day), written out (the same values, fewer calls)
        if into_day < 0.0:
            return total + 0.0
        hours_per_day = self.hours_per_day
        return total + (hours_per_day if hours_per_day < into_day else into_day)

    def working_hours_between(self, start: float, end: float) -> float:
        """Working hours in ``[start, end]``, hours."""
        return self.working_hours_until(end) - self.working_hours_until(start)

    def instant_after_work(self, worked: float) -> float:
        """The earliest instant at which ``worked`` working hours have passed since time 0."""
        if not self.enabled:
            return worked
        weeks = math.floor(worked / self._hours_per_week)
        rest = worked - weeks * self._hours_per_week
        day = int(rest // self.hours_per_day)
        into_day = rest - day * self.hours_per_day
        if into_day <= 1e-12 and (weeks > 0 or day > 0):
            # Work that ends exactly at a day boundary ends at the close of the previous working day.
            if day == 0:
                weeks -= 1
                day = self.days_per_week
            day -= 1
            into_day = self.hours_per_day
        return weeks * HOURS_PER_WEEK + day * HOURS_PER_DAY + self.day_start_hour + into_day

    def finish_time(self, start: float, work_hours: float) -> float:
        """The instant ``work_hours`` of work started at ``start`` is done, hours.

        Zero work finishes at once, even outside working hours.
        """
        if not self.enabled or work_hours <= 0:
            return start + max(work_hours, 0.0)
        end = self.instant_after_work(self.working_hours_until(start) + work_hours)
        return end if end > start else start  # max(start, end)


class ShiftedCalendar:
    """A working calendar moved later in time by ``offset_hours`` (a later start, or another time zone).

    Same interface as :class:`WorkingCalendar`: ``working_hours_until``,
    ``working_hours_between`` and ``finish_time``, all exact and O(1).

    Parameters
    ----------
    base : WorkingCalendar
        The team's calendar.
    offset_hours : float
        How much later this person's week runs, clock hours (west of the team: positive).
    """

    __slots__ = ("base", "offset_hours")

    def __init__(self, base: WorkingCalendar, offset_hours: float) -> None:
        self.base = base
        self.offset_hours = offset_hours

    def working_hours_until(self, t: float) -> float:
        """Working hours from this person's time 0 to ``t``, hours."""
        return self.base.working_hours_until(t - self.offset_hours)

    def working_hours_between(self, start: float, end: float) -> float:
        """Working hours in ``[start, end]``, hours."""
        return self.working_hours_until(end) - self.working_hours_until(start)

    def finish_time(self, start: float, work_hours: float) -> float:
        """The instant ``work_hours`` of work started at ``start`` is done, hours."""
        return self.base.finish_time(start - self.offset_hours, work_hours) + self.offset_hours


def personal_calendars(base: WorkingCalendar, developers: int, start_spread_hours: float, time_zones: list[float]):
    """Each developer's calendar: the team's, moved by their time zone and their place in the start spread.

    Developer ``i`` lives in ``time_zones[i % len(time_zones)]`` (hours behind the first
    zone; an empty list is one zone) and starts ``start_spread_hours * k / n`` later than
    the earliest starter of their zone, where ``k`` is their rank among the ``n``
    developers of that zone: starts are spread evenly, with no randomness. A developer
    with no shift gets ``base`` itself.
    """
    zones = list(time_zones) or [0.0]
    members: dict[int, list[int]] = {}
    for i in range(developers):
        members.setdefault(i % len(zones), []).append(i)
    calendars: list = [base] * developers
    for zone, people in members.items():
        for rank, i in enumerate(people):
            offset = zones[zone] + start_spread_hours * rank / len(people)
            if offset != 0.0 and base.enabled:
                calendars[i] = ShiftedCalendar(base, offset)
    return calendars
