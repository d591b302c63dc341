"""Circuit breakers: when they open, what a half-open probe decides, and refusals that do not count."""

from __future__ import annotations

from sluicegate_router.breaker import BreakerPolicy, BreakerState, CircuitBreakers


def breakers(clock, **policy) -> CircuitBreakers:
    options = {
        "consecutive_failures": 3,
        "error_rate": 0.5,
        "window_seconds": 30,
        "min_calls_in_window": 6,
        "cooldown_seconds": 10,
    }
    return CircuitBreakers(BreakerPolicy(**(options | policy)), clock)


def test_consecutive_failures_open_the_breaker_and_a_success_in_between_resets_the_count(clock) -> None:
    board = breakers(clock)
    for failed in (True, True, False, True, True):
        if failed:
            board.record_failure("d")
        else:
            board.record_success("d")
    assert board.state("d") is BreakerState.CLOSED and board.allow("d")

    board.record_failure("d")

    assert board.state("d") is BreakerState.OPEN
    assert not board.allow("d")
    assert board.retry_after_seconds("d") == 10


def test_an_error_rate_over_the_window_opens_the_breaker_and_old_calls_fall_out_of_it(clock) -> None:
    board = breakers(clock, consecutive_failures=100)
    for _ in range(3):
        board.record_success("d")
        board.record_failure("d")
    assert board.state("d") is BreakerState.OPEN, "3 failures in 6 calls is the 50% threshold"

    other = breakers(clock, consecutive_failures=100)
    for _ in range(3):
        other.record_failure("e")
    clock.now += 31
    for _ in range(2):
        other.record_failure("e")
        other.record_success("e")
        other.record_success("e")
    assert other.state("e") is BreakerState.CLOSED, "failures older than the window no longer count"


def test_after_the_cooldown_one_probe_goes_through_and_its_result_decides(clock) -> None:
    board = breakers(clock, consecutive_failures=1)
    board.record_failure("d")
    clock.now += 10

    assert board.state("d") is BreakerState.HALF_OPEN
    assert board.allow("d"), "the probe"
    assert not board.allow("d"), "only one probe at a time"
    board.record_failure("d")
    assert board.state("d") is BreakerState.OPEN and not board.allow("d")

    clock.now += 10
    assert board.allow("d")
    board.record_success("d")
    assert board.state("d") is BreakerState.CLOSED and board.allow("d") and board.allow("d")


def test_a_probe_that_never_reports_frees_the_slot_after_a_cooldown(clock) -> None:
    board = breakers(clock, consecutive_failures=1)
    board.record_failure("d")
    clock.now += 10
    assert board.allow("d")

    clock.now += 10

    assert board.allow("d")
