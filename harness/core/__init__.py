"""Shared pieces every layer may use: the generic registry. Imports nothing else of the harness."""
