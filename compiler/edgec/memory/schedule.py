"""Execution order: pick the order of independent branches that gives the smallest arena.

A graph with branches (a ResNet block's skip path and its main path) can run in several
orders, and the order decides which tensors are live together. This module lists
topological orders of the nodes and ranks them by their peak of live bytes. That peak is a
lower bound of the arena which ignores in-place sharing and fragmentation. The best
``PLANNED_ORDERS`` orders are then planned with ``edgec.memory.planner``, and the smallest
arena wins.

The listing is a depth-first search that takes ready nodes in their original order, so the
first order listed is the model's own. It stops after ``MAX_ORDERS`` orders. Beyond that
the search is not exhaustive (a graph with many long parallel branches). Ties keep
the earlier order, so a graph without branches keeps its order and the result is
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

from edgec.ir import Node
from edgec.memory.planner import MemoryPlan

MAX_ORDERS = 2000
PLANNED_ORDERS = 8


def topological_orders(nodes: list[Node], limit: int = MAX_ORDERS) -> list[list[int]]:
    """Up to ``limit`` orders (as index lists) in which every node follows its producers."""
    producer = {name: i for i, node in enumerate(nodes) for name in node.outputs}
    needs = [
        {producer[name] for name in node.inputs if name in producer and producer[name] != i}
        for i, node in enumerate(nodes)
    ]
    orders: list[list[int]] = []
    order: list[int] = []
    done: set[int] = set()

    def search() -> None:
        if len(orders) >= limit:
            return
        if len(order) == len(nodes):
            orders.append(list(order))
            return
        for i in range(len(nodes)):
            if i not in done and needs[i] <= done:
                done.add(i)
                order.append(i)
                search()
                order.pop()
                done.discard(i)

    search()
    return orders


def peak_live_bytes(nodes: list[Node], order: list[int], sizes: dict[str, int]) -> int:
    """Highest sum of the sizes of the tensors live at one step of ``order``."""
    last_read: dict[str, int] = {}
    for step, index in enumerate(order):
        for name in nodes[index].inputs:
            last_read[name] = step
    live: dict[str, int] = {}
    peak = 0
    for step, index in enumerate(order):
        for name in nodes[index].outputs:
            if name in sizes:
                live[name] = sizes[name]
        peak = max(peak, sum(live.values()))
        for name in [n for n in live if last_read.get(n, step) <= step]:
            del live[name]
    return peak


def choose_schedule(
    nodes: list[Node], sizes: dict[str, int], plan_for: Callable[[list[Node]], MemoryPlan]
) -> tuple[list[Node], MemoryPlan]:
    """Return the order of ``nodes`` whose plan (``plan_for``) has the smallest arena, and the plan."""
    orders = topological_orders(nodes)
    ranked = sorted(range(len(orders)), key=lambda k: (peak_live_bytes(nodes, orders[k], sizes), k))
    if not nodes:
        return [], plan_for([])
    best: tuple[list[Node], MemoryPlan] | None = None
    for k in sorted({0, *ranked[:PLANNED_ORDERS]}):
        ordered = [nodes[i] for i in orders[k]]
        plan = plan_for(ordered)
        if best is None or plan.arena_bytes < best[1].arena_bytes:
            best = (ordered, plan)
    return best
