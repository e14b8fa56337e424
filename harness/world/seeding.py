"""Seeds derived from what a random draw is for, never from call order.

`derive_seed(config_key, replicate, "patterns")` always returns the
same 63-bit integer for the same parts, whatever process, worker or ensemble
grouping asks for it.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from any printable parts (hash of their reprs)."""
    h = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8)
    return int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator on `device` seeded with `seed`."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def make_deterministic(device: torch.device | str = "cpu") -> None:
    """Deterministic kernels for CPU runs (applied by the entry points:
    training.runtime.RuntimeSettings).

    On CUDA the scatter-adds of the factored path have no deterministic kernel; GPU runs are
    reproducible to float tolerance, not bit for bit."""
    if torch.device(device).type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # Deterministic mode also fills every torch.empty with NaN, a guard for code that reads
        # memory it never
        # wrote. Nothing here does (tests/test_runtime.py checks that training is bit-identical
        # without it), and
        # the fill is a whole extra pass over each chunk's uniforms and every new buffer.
        torch.utils.deterministic.fill_uninitialized_memory = False
