"""Geometry measured on the actual patterns and tasks: largest pairwise |cosine|, the part of
vectors outside a span, and the two-class shortcut of a training-task graph."""

from __future__ import annotations

import torch


def _unit_rows(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True)


def _max_abs_cos(a: torch.Tensor, b: torch.Tensor | None = None) -> float:
    """Largest |cosine| between distinct rows of a (b None) or between rows of a and rows of b."""
    ua = _unit_rows(a.to(torch.float64))
    if b is None:
        if ua.shape[0] < 2:
            return 0.0
        c = (ua @ ua.T).abs()
        c.fill_diagonal_(0.0)
        return float(c.max())
    return float((ua @ _unit_rows(b.to(torch.float64)).T).abs().max())


def span_residual_max(vectors: torch.Tensor, basis: torch.Tensor) -> float:
    """Largest relative norm of a row of `vectors` outside span(rows of `basis`)
    (patterns.span_residual)."""
    from harness.world.patterns import span_residual

    return float(span_residual(vectors, basis).max())


def task_graph_shortcut(tasks: torch.Tensor, M: int) -> float:
    """How completely a two-class shortcut explains T_tr: 0 if the undirected graph of training
    pairs is not bipartite, else the largest |E| / (|A| |B|) over the 2-colourings (A, B) consistent
    with it (1: complete bipartite).

    When every training task pairs a pattern of class A with one of class B, "the query's label is
    the label of the contexts of its class" fits every training prompt, and fails on unseen tasks
    inside one class."""
    edges = {(min(a, b), max(a, b)) for a, b in tasks.tolist() if a != b}
    if not edges:
        return 0.0
    nbrs: dict[int, list[int]] = {v: [] for v in range(M)}
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    color: dict[int, int] = {}
    comps: list[list[int]] = []
    for v in range(M):
        if v in color:
            continue
        color[v], comp, stack = 0, [v], [v]
        while stack:
            u = stack.pop()
            for w in nbrs[u]:
                if w not in color:
                    color[w] = 1 - color[u]
                    comp.append(w)
                    stack.append(w)
                elif color[w] == color[u]:
                    return 0.0
        comps.append(comp)
    # class-A size of each component as coloured
    side = [sum(color[u] == 0 for u in c) for c in comps]
    sizes = [len(c) for c in comps]
    best = 0.0
    n = len(comps)
    masks = range(2 ** (n - 1)) if n - 1 <= 16 else range(1)
    for mask in masks:  # flip component i (i >= 1) when bit i - 1 is set
        a = side[0] + sum(
            (sizes[i] - side[i]) if mask >> (i - 1) & 1 else side[i] for i in range(1, n)
        )
        if 0 < a < M:
            best = max(best, len(edges) / (a * (M - a)))
    return best
