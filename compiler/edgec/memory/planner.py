"""Lifetime-based static arena planner.

Algorithm:
1. Each activation tensor that lives in the arena gets a lifetime ``[first, last]``: the
   index of the node that produces it and of the last node that reads it (inclusive, so a
   kernel's output never overlaps the inputs it reads).
2. Tensors are placed in order of decreasing size (ties by name, so plans are
   deterministic). Each takes the lowest aligned offset that does not overlap any
   already-placed tensor whose lifetime intersects its own.
3. The arena size is the highest end offset.

This greedy-by-size heuristic is not optimal, because the problem is NP-hard. It costs
O(n^2 log n) for n tensors, which is negligible for the graphs edgec compiles. Graph inputs
and outputs are not placed: the kernels read and write the caller's buffers directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGNMENT = 16


@dataclass
class MemoryPlan:
    """Arena offset (bytes) of each planned tensor, lifetimes, and the arena size."""

    offsets: dict[str, int] = field(default_factory=dict)
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    arena_bytes: int = 0


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def compute_lifetimes(
    steps: list[tuple[list[str], list[str]]], planned: set[str]
) -> dict[str, tuple[int, int]]:
    """Lifetimes of the ``planned`` tensors given each step's (inputs, outputs)."""
    lifetimes: dict[str, tuple[int, int]] = {}
    for index, (inputs, outputs) in enumerate(steps):
        for name in outputs:
            if name in planned:
                lifetimes[name] = (index, index)
        for name in inputs:
            if name in lifetimes:
                first, _ = lifetimes[name]
                lifetimes[name] = (first, index)
    return lifetimes


def plan_memory(steps: list[tuple[list[str], list[str]]], sizes: dict[str, int]) -> MemoryPlan:
    """Place every tensor of ``sizes`` (name -> bytes) in one arena; see the module doc."""
    lifetimes = compute_lifetimes(steps, set(sizes))
    order = sorted(lifetimes, key=lambda name: (-sizes[name], name))
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    plan = MemoryPlan(lifetimes=lifetimes, sizes=dict(sizes))
    for name in order:
        first, last = lifetimes[name]
        size = _align(max(sizes[name], 1))
        conflicts = sorted(
            (off, end) for off, end, f, l in placed if not (l < first or last < f)
        )
        offset = 0
        for off, end in conflicts:
            if offset + size <= off:
                break
            offset = max(offset, _align(end))
        placed.append((offset, offset + size, first, last))
        plan.offsets[name] = offset
        plan.arena_bytes = max(plan.arena_bytes, offset + sizes[name])
    plan.arena_bytes = _align(plan.arena_bytes)
    return plan
