"""Capped exponential backoff with jitter, shared by device sessions and the central link."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next_delay()`` grows ``initial * factor**n`` up to ``cap``, each with +-``jitter`` share;
    ``reset()`` after a success. Jitter keeps a fleet of agents from reconnecting in lockstep."""

    initial: float = 0.5
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * (self.factor ** self.attempts))
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, min(self.cap, base + self.rng.uniform(-spread, spread)))

    def exhaust(self) -> float:
        """Jump to the cap (a failure retrying cannot fix soon, e.g. wrong credentials)."""
        while self.initial * (self.factor ** self.attempts) < self.cap:
            self.attempts += 1
        return self.next_delay()

    def reset(self) -> None:
        self.attempts = 0
