"""Shared utilities below every other layer: the generic registry, JSON I/O (one sanitiser, one
canonical hash, one atomic writer), the typed-record field checks, and the fingerprint of the code
that trains and measures. Imports nothing from the rest of the harness."""
