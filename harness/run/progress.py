"""Progress a person can read: training counted in member-steps, its share and ETA by work, and
units measured.

A member-step is one training step of one ensemble member (an ensemble of 8 members advances by 8 a
step), so the count moves while a long ensemble trains. The share done and the time left are by
work, not by steps (harness.run.cost_model): a deep model's step costs far more than a one-layer
model's, and a count of steps alone stalls on the deep ensembles and promises too little time. In
a terminal one line updates (tqdm, the counts beside it); elsewhere (a CI log, a pipe) a line is
printed at every tenth of the work or once a minute, whichever comes first; with --no-progress
nothing. A run with nothing to train counts the units it measures instead.
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
    """Training (member-steps, by work) and measuring (units) progress; no-ops when disabled.

    `work` is the training's total cost; without it every member-step weighs the same."""

    def __init__(
        self,
        steps: int,
        units: int,
        enabled: bool = True,
        out: TextIO | None = None,
        tty: bool | None = None,
        work: float | None = None,
    ):
        self.out = out or sys.stderr
        self.enabled = enabled and (steps > 0 or units > 0)
        self.by_steps = steps > 0
        self.total = steps if self.by_steps else units
        self.work_total = float(work) if work and self.by_steps else float(self.total)
        self.units_total, self.done, self.units, self.work = units, 0, 0, 0.0
        self.t0 = self.last_line = time.perf_counter()
        self.last_tenth = 0
        self.bar = None
        if self.enabled and (self.out.isatty() if tty is None else tty):
            from tqdm import tqdm

            self.bar = tqdm(
                total=1000,  # permille of the work: tqdm's rate and time left are by work
                desc="training" if self.by_steps else "measuring",
                file=self.out,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]",
            )
            self.bar.set_postfix_str(self._counts())

    def trained(self, member_steps: int, work: float | None = None) -> None:
        """`member_steps` trained, worth `work` (the member-steps themselves when not given)."""
        if self.enabled and self.by_steps:
            self.done = min(self.total, self.done + member_steps)
            self._advance(member_steps if work is None else work)

    def measured(self, units: int) -> None:
        if not self.enabled:
            return
        self.units += units
        if not self.by_steps:
            self.done = min(self.total, self.done + units)
            self._advance(units)
        elif self.bar is not None:
            self.bar.set_postfix_str(self._counts())

    def _counts(self) -> str:
        if self.by_steps:
            return (
                f"{self.done}/{self.total} member-steps, "
                f"measured {self.units}/{self.units_total} units"
            )
        return f"{self.done}/{self.total} units"

    def _advance(self, work: float) -> None:
        before = self._permille()
        self.work = min(self.work_total, self.work + work)
        if self.bar is not None:
            self.bar.set_postfix_str(self._counts(), refresh=False)
            self.bar.update(self._permille() - before)
            return
        share, now = self.work / self.work_total, time.perf_counter()
        tenth = int(10 * share + 1e-9)
        if tenth > self.last_tenth or now - self.last_line >= 60:
            self.last_tenth, self.last_line = tenth, now
            print(self.line(now), file=self.out, flush=True)

    def _permille(self) -> int:
        return int(1000 * self.work / self.work_total)

    def line(self, now: float | None = None) -> str:
        """The sparse line: share of the work done, counts, elapsed and the time left at the rate
        of work so far."""
        now = time.perf_counter() if now is None else now
        spent, share = now - self.t0, self.work / self.work_total
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
