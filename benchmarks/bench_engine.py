"""Engine benchmark: prints schedules per second, a 30-year replay, and a one-day advance.

Targets (issue 2): 10,000 thirty-year schedules under 10 s; a full 30-year
replay with 360 payments under 5 ms; advancing one loan by one day under 50 µs.

    python benchmarks/bench_engine.py
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from app.domain.engine import Event, advance, replay
from app.domain.schedule import build_schedule
from app.domain.terms import terms_from_dict

TERMS = terms_from_dict(
    {
        "principal": "250000.00",
        "rate": "6.25",
        "term": 360,
        "start": "2026-01-01",
        "first_due": "2026-02-01",
        "late_fee": {"grace_days": 15, "percent": "5", "max": "100.00"},
    }
)


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return samples


def main() -> None:
    count = 10_000
    began = time.perf_counter()
    for _ in range(count):
        build_schedule(TERMS)
    elapsed = time.perf_counter() - began
    print(f"schedules: {count:,} thirty-year monthly schedules in {elapsed:.2f} s ({count / elapsed:,.0f} per second)")

    schedule = build_schedule(TERMS)
    events = [Event(f"p{row.n}", "payment", row.due, row.payment) for row in schedule.rows]
    end = schedule.rows[-1].due
    replay(TERMS, events, end)  # warm up
    samples = timed(lambda: replay(TERMS, events, end), 50)
    print(
        f"replay: 30-year loan with 360 payments, median {statistics.median(samples) * 1000:.2f} ms "
        f"(min {min(samples) * 1000:.2f} ms, 50 runs)"
    )

    # One day forward from the middle of the loan's life, with and without a payment that day.
    mid = schedule.rows[179]
    state, _ = replay(TERMS, events[:179], mid.due - timedelta(days=1))
    quiet_state, _ = replay(TERMS, events[:179], mid.due + timedelta(days=3))
    quiet_day = quiet_state.date + timedelta(days=1)
    runs = 20_000
    began = time.perf_counter()
    for _ in range(runs):
        advance(quiet_state, TERMS, [], quiet_day)
    quiet = (time.perf_counter() - began) / runs
    busy = statistics.median(timed(lambda: advance(state, TERMS, [events[179]], mid.due), 2_000))
    print(f"advance one day: {quiet * 1e6:.1f} µs on a quiet day; {busy * 1e6:.1f} µs on a due date with a payment")


if __name__ == "__main__":
    main()
