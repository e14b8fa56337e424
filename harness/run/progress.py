"""Progress a person can read: training counted in member-steps with an ETA, and units measured.

A member-step is one training step of one ensemble member (an ensemble of 8 members advances by 8 a
step), so the count moves while a long ensemble trains. In a terminal one line updates (tqdm, the
measured units beside it); elsewhere (a CI log, a pipe) a line is printed at every tenth of the work
or once a minute, whichever comes first; with --no-progress nothing. A run with nothing to train
counts the units it measures instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour."""
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class Progress:
    """Training (member-steps) and measuring (units) progress; no-ops when disabled."""

    def __init__(
        self,
        steps: int,
        units: int,
        enabled: bool = True,
        out: TextIO | None = None,
        tty: bool | None = None,
    ):
        self.out = out or sys.stderr
        self.enabled = enabled and (steps > 0 or units > 0)
        self.by_steps = steps > 0
        self.total = steps if self.by_steps else units
        self.units_total, self.done, self.units = units, 0, 0
        self.t0 = self.last_line = time.perf_counter()
        self.last_tenth = 0
        self.bar = None
        if self.enabled and (self.out.isatty() if tty is None else tty):
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                unit="member-step" if self.by_steps else "unit",
                unit_scale=self.by_steps,
                desc="training" if self.by_steps else "measuring",
                file=self.out,
                dynamic_ncols=True,
            )

    def trained(self, member_steps: int) -> None:
        if self.enabled and self.by_steps:
            self._advance(member_steps)

    def measured(self, units: int) -> None:
        if not self.enabled:
            return
        self.units += units
        if not self.by_steps:
            self._advance(units)
        elif self.bar is not None:
            self.bar.set_postfix_str(f"measured {self.units}/{self.units_total} units")

    def _advance(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if self.bar is not None:
            self.bar.update(n)
            return
        tenth, now = 10 * self.done // self.total, time.perf_counter()
        if tenth > self.last_tenth or now - self.last_line >= 60:
            self.last_tenth, self.last_line = tenth, now
            print(self.line(now), file=self.out, flush=True)

    def line(self, now: float | None = None) -> str:
        """The sparse line: share done, counts, elapsed and the time left at the rate so far."""
        now = time.perf_counter() if now is None else now
        spent, share = now - self.t0, self.done / self.total
        left = f", about {clock(spent * (1 - share) / share)} left" if 0 < share < 1 else ""
        what = (
            f"training: {100 * share:.0f}% ({self.done}/{self.total} member-steps, "
            f"{self.units}/{self.units_total} units measured)"
            if self.by_steps
            else f"measuring: {100 * share:.0f}% ({self.done}/{self.total} units)"
        )
        return f"{what}, {clock(spent)} elapsed{left}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
