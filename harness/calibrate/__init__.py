"""Calibration: a declared search over the open readings and [choose] values for the setting under
which the paper's figure claims hold best, written as a named regime (harness.claims.regime)."""
