"""Retries with exponential back-off and jitter, bounded in attempts and in total time."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["RetryPolicy", "call_with_retry"]

T = TypeVar("T")
logger = logging.getLogger("data_fetcher")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    The wait before retry ``k`` (``k = 0, 1, ...``) is ``min(max_delay, base_delay * 2**k)``
    scaled by a random factor in ``[1 - jitter, 1]``. Retrying stops after
    ``max_attempts`` attempts, or when the next wait would end later than ``max_elapsed``
    seconds after the first attempt started.

    Examples:
        >>> RetryPolicy(jitter=0.0).delay(3)
        4.0
        >>> RetryPolicy(max_attempts=0)
        Traceback (most recent call last):
        ...
        ValueError: max_attempts must be >= 1, got 0
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_elapsed: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        for field in ("base_delay", "max_delay", "max_elapsed"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        wait = min(self.max_delay, self.base_delay * 2.0**retry)
        if self.jitter:
            wait *= 1.0 - self.jitter * (rng or random).random()
        return wait


def call_with_retry(
    func: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    what: str = "request",
) -> tuple[T, int]:
    """Call ``func`` until it succeeds, retrying the failures that ``is_transient`` accepts.

    Args:
        func: The call to make.
        is_transient: Whether an exception is worth another attempt.
        policy: The bounds (default :class:`RetryPolicy`).
        sleep: Waits that many seconds (inject a fake in tests).
        clock: Monotonic seconds, for the total-time bound.
        rng: Random source of the jitter.
        what: Named in the log lines.

    Returns:
        ``(result, attempts)``.

    Raises:
        BaseException: The last exception when it is not transient or the bounds are
            reached; its ``attempts`` attribute is set to the number of attempts made.
    """
    policy = policy or RetryPolicy()
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return func(), attempt
        except Exception as exc:
            wait = policy.delay(attempt - 1, rng)
            out_of_time = clock() - started + wait > policy.max_elapsed
            if not is_transient(exc) or attempt >= policy.max_attempts or out_of_time:
                exc.attempts = attempt
                raise
            logger.info(
                "%s failed (%s: %s); retry %d in %.1fs",
                what,
                type(exc).__name__,
                exc,
                attempt,
                wait,
            )
            sleep(wait)
