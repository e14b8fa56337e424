"""icl-claimcheck harness: data, training, probes, grids, fits, verdicts, reports, fuzzing, CLI."""

__version__ = "0.1.0"
