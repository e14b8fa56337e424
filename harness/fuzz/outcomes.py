"""One fuzzed configuration measured: train (batched), test on fresh in-domain and OOD prompts,
check its assumptions.

`measure(runs)` trains configurations in as few ensembles as their shapes allow (members that add
noise train apart: they need the dense prompt path), tests each member on fresh unseen in-domain and
OOD prompts, checks its assumptions (harness.fuzz.assumptions) and returns one `Outcome` per run.
`Outcome.record` gives the FuzzRecord that harness.fuzz.records stores under results/fuzz/records/.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.claims.stats import BoundDecision, bound_decision
from harness.core.jsonio import content_hash
from harness.fuzz.assumptions import ID, OOD, AssumptionReport, check_assumptions
from harness.fuzz.profiles import CONFIDENCE, EPS
from harness.fuzz.records import FuzzRecord
from harness.measure.evaluation import evaluate
from harness.training.trainer import train_ensemble
from harness.world.config import RunConfig
from harness.world.prompts import PromptBatch

EVAL_CHUNK = 500  # test prompts per member generated and evaluated at once


@dataclass
class DomainResult:
    """Errors on n fresh test prompts of one domain, judged by the claims' bound rule
    (stats.bound_decision) against eps."""

    errors: int
    n: int
    eps: float = EPS

    @property
    def rate(self) -> float:
        return self.errors / self.n

    def decision(self) -> BoundDecision:
        return bound_decision([(self.errors, self.n)], self.eps, CONFIDENCE)

    @property
    def bounds(self) -> tuple[float, float]:
        d = self.decision()
        return d.lower, d.upper

    def verdict(self, failed: bool = False) -> str:
        """ERROR if the run failed, else the bound rule: CONFIRMED if the CP upper bound <= eps,
        REFUTED if the lower bound > eps and the exact binomial test rejects rate <= eps, else
        INCONCLUSIVE."""
        return "ERROR" if failed else self.decision().verdict

    def to_dict(self, failed: bool = False) -> dict[str, Any]:
        d = self.decision()
        return {
            "errors": self.errors,
            "n": self.n,
            "rate": self.rate,
            "cp_lower": d.lower,
            "cp_upper": d.upper,
            "eps": self.eps,
            "verdict": "ERROR" if failed else d.verdict,
        }


@dataclass
class Outcome:
    """One trained configuration: its run, the assumptions it violates, and its in-domain and OOD
    results."""

    run: RunConfig
    report: AssumptionReport
    id: DomainResult
    ood: DomainResult
    failed: bool = False
    seconds: float = 0.0  # training seconds of its ensemble / members
    meta: dict[str, Any] = field(default_factory=dict)

    def result(self, domain: str) -> DomainResult:
        return self.id if domain == ID else self.ood

    def verdict(self, domain: str) -> str:
        return self.result(domain).verdict(self.failed)

    def broke(self, domain: str) -> bool:
        """The claim clearly fails here: REFUTED (CP lower bound above eps, binomial test) or the
        run diverged."""
        return self.verdict(domain) in ("REFUTED", "ERROR")

    def broken_domains(self) -> list[str]:
        return [d for d in (ID, OOD) if self.broke(d)]

    def unexplained(self, kind: str | None = None) -> list[str]:
        """Domains that broke although no assumption of that domain (of `kind`, if given) is
        violated."""
        return [d for d in self.broken_domains() if not self.report.violated(d, kind)]

    def key(self, source: str) -> str:
        return content_hash(
            {"source": source, "run": self.run.to_dict(), "n": self.id.n, "eps": self.id.eps}, 16
        )

    def record(
        self, source: str, profile: str = "", meta: dict[str, Any] | None = None
    ) -> FuzzRecord:
        return FuzzRecord(
            key=f"{source}-{self.key(source)}",
            source=source,
            profile=profile,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            seed=self.run.seed,
            data=dataclasses.asdict(self.run.data),
            run=self.run,
            assumptions=self.report.to_dict(),
            result={ID: self.id.to_dict(self.failed), OOD: self.ood.to_dict(self.failed)},
            broke=self.broken_domains(),
            unexplained={"any": self.unexplained(), "theory": self.unexplained("theory")},
            failed=self.failed,
            seconds=self.seconds,
            meta={**self.meta, **(meta or {})},
        )


def _groups(runs: Sequence[RunConfig], max_members: int) -> list[list[RunConfig]]:
    """Ensembles: equal shape keys, noise-free apart from noisy (dense path), at most max_members
    each."""
    by: dict[tuple, list[RunConfig]] = {}
    for r in runs:
        by.setdefault((r.shape_key(), r.data.noise > 0), []).append(r)
    out = []
    for members in by.values():
        for i in range(0, len(members), max_members):
            out.append(members[i : i + max_members])
    return out


def measure(
    runs: Sequence[RunConfig],
    *,
    n_test: int,
    eps: float = EPS,
    max_members: int = 64,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Train every run (identical runs once), test it on n_test fresh unseen-task and OOD prompts,
    check its assumptions."""
    unique = list(dict.fromkeys(runs))
    done: dict[RunConfig, Outcome] = {}
    for group in _groups(unique, max_members):
        t0 = time.perf_counter()
        tr = train_ensemble(group, device=device)
        res = {}
        for dom in (ID, OOD):
            # each member's test prompts are one stream from its own generator, drawn EVAL_CHUNK
            # prompts at a time (memory)
            gens = [w.eval_generator("fuzz", dom, device=device) for w in tr.worlds]
            errors = [0] * len(group)
            for start in range(0, n_test, EVAL_CHUNK):
                m = min(EVAL_CHUNK, n_test - start)
                batch = PromptBatch.stack(
                    [w.test_prompts(m, g, domain=dom) for w, g in zip(tr.worlds, gens)]
                )
                errors = [
                    a + int(b) for a, b in zip(errors, evaluate(tr.model, batch).errors.tolist())
                ]
                del batch
            res[dom] = errors
        secs = (time.perf_counter() - t0) / len(group)
        for e, (r, w) in enumerate(zip(group, tr.worlds)):
            rep = check_assumptions(r.data, w, seed=r.seed, train=r.train)
            done[r] = Outcome(
                r,
                rep,
                DomainResult(int(res[ID][e]), n_test, eps),
                DomainResult(int(res[OOD][e]), n_test, eps),
                failed=bool(tr.failed[e]),
                seconds=secs,
            )
        if progress:
            progress(
                f"trained {len(group)} members "
                f"({'noisy' if group[0].data.noise > 0 else 'noise-free'}) in "
                f"{time.perf_counter() - t0:.1f}s"
            )
    return [dataclasses.replace(done[r], meta={}) for r in runs]
