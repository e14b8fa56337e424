"""Fuzzing the theory's assumptions: the assumption checker, Hypothesis strategies, robustness
sweeps, the campaign and its report."""
