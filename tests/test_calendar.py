from hypothesis import given, strategies as st

from trunksim.engine.calendar import WorkingCalendar


def test_one_hour_of_work_at_midnight_monday_ends_at_ten():
    assert WorkingCalendar().finish_time(0.0, 1.0) == 10.0


def test_work_spills_over_the_weekend():
    friday_16h = 4 * 24 + 16
    assert WorkingCalendar().finish_time(friday_16h, 2.0) == 168 + 10


def test_a_week_holds_forty_working_hours():
    assert WorkingCalendar().working_hours_between(0.0, 168.0) == 40.0


def test_disabled_calendar_is_the_clock():
    assert WorkingCalendar(enabled=False).finish_time(3.5, 2.0) == 5.5


@given(start=st.floats(0, 2000), work=st.floats(0.01, 200))
def test_finish_time_holds_exactly_the_work_asked(start, work):
    calendar = WorkingCalendar()
    end = calendar.finish_time(start, work)
    assert end >= start
    assert abs(calendar.working_hours_between(start, end) - work) < 1e-6
