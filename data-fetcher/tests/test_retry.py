import random

import pytest
from data_fetcher import RetryPolicy
from data_fetcher.retry import call_with_retry


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_retry_bounds(args, expected):
    clock = FakeTime()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) <= args["failures"]:
            raise ConnectionError("down")
        return "ok"

    policy = RetryPolicy(
        max_attempts=args["max_attempts"],
        base_delay=1,
        max_delay=60,
        max_elapsed=args["max_elapsed"],
        jitter=0,
    )
    kwargs = dict(
        is_transient=lambda e: True, policy=policy, sleep=clock.sleep, clock=lambda: clock.now
    )
    if expected["raised"]:
        with pytest.raises(ConnectionError) as info:
            call_with_retry(flaky, **kwargs)
        assert info.value.attempts == expected["attempts"]
    else:
        assert call_with_retry(flaky, **kwargs) == ("ok", expected["attempts"])
    assert len(calls) == expected["attempts"]
    assert len(clock.sleeps) == expected["sleeps"]
    assert clock.sleeps == [2.0**k for k in range(len(clock.sleeps))]


def test_not_transient_is_raised_at_once():
    sleeps = []

    def broken():
        raise KeyError("nope")

    with pytest.raises(KeyError):
        call_with_retry(broken, is_transient=lambda e: False, sleep=sleeps.append)
    assert sleeps == []


def test_jitter_stays_within_bounds():
    policy = RetryPolicy(base_delay=2, max_delay=5, jitter=0.5)
    rng = random.Random(1)
    waits = [policy.delay(k, rng) for k in range(6) for _ in range(50)]
    assert min(waits) >= 1.0 and max(waits) <= 5.0
    assert len(set(waits)) > 100  # really random


def test_policy_rejects_bad_values(args, expected):
    with pytest.raises(ValueError, match=expected):
        RetryPolicy(**args)
