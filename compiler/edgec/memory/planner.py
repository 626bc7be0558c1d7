"""Static arena planner: lifetimes, in-place groups, and offsets that minimise the arena.

Input: the schedule (each step's input and output tensor names), the byte size of every
tensor to place, the aliases the kernels allow (``edgec.memory.aliasing``) and kernel
scratch buffers (``scratch:<step>``, live during their step only).

Algorithm:
1. Lifetimes. A tensor lives from the step that writes it to the last step that reads it,
   both inclusive, so an output never shares bytes with the inputs of its own step unless
   an alias states that the kernel allows it.
2. Groups. An alias joins the output to its input's group at a fixed relative offset: a
   view (reshape) always; an in-place alias only when every tensor of the input's group is
   read for the last time at that step and the step reads no other tensor of the group.
   Everything else is a group of one. A group is placed as a unit; its members keep their
   own lifetimes, so members that are not live together may overlap.
3. Placement. Groups are placed one at a time at the lowest aligned offset where none of
   their members overlaps, in bytes and in steps, a member placed before. Several orders
   are tried and the smallest arena kept: by size, by lifetime length, by first use, by
   breadth (the steps with the most live bytes first, as TFLite's GPU planner does), and,
   for at most ``EXACT_MAX_GROUPS`` groups, an exhaustive branch-and-bound search over all
   orders. Every plan is tried with in-place aliases and with views only.

Cost: each placement is O(m^2) in the m placed members, so one heuristic is O(n^3) at worst
for n tensors; the exhaustive search is bounded by ``EXACT_BUDGET`` placements.

Where it is not optimal: placing blocks without overlap in time is NP-hard in general.
Lowest-offset placement reaches the optimum for some order of the groups, and the
exhaustive search finds it for small graphs when it ends within its budget (otherwise it
keeps the best order seen). The heuristics may miss the optimum on larger graphs.
In-place groups are decided before placement, so a group whose members do not fit well
together can cost more than separate tensors would (the views-only plan bounds that loss).

``check_plan`` re-derives every overlap of a finished plan and raises if two tensors that
are live at the same step share bytes without an alias that permits it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from edgec.memory.aliasing import ALIGNMENT, IN_PLACE, VIEW, Alias

EXACT_MAX_GROUPS = 10
EXACT_BUDGET = 20_000

Step = tuple[list[str], list[str]]


@dataclass
class MemoryPlan:
    """Arena offset (bytes) of each planned tensor, lifetimes, and the arena size."""

    offsets: dict[str, int] = field(default_factory=dict)
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    arena_bytes: int = 0
    aliases: dict[str, Alias] = field(default_factory=dict)  # applied aliases, by output
    strategy: str = ""
    steps: list[Step] = field(default_factory=list)  # the schedule the plan was made for


@dataclass
class _Member:
    name: str
    offset: int  # relative to the group's base
    size: int
    first: int
    last: int


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def compute_lifetimes(steps: list[Step], planned: set[str]) -> dict[str, tuple[int, int]]:
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


def plan_memory(
    steps: list[Step],
    sizes: dict[str, int],
    aliases: dict[str, Alias] | None = None,
    scratch: dict[int, int] | None = None,
) -> MemoryPlan:
    """Place every tensor of ``sizes`` (name -> bytes) in one arena; see the module doc.

    ``aliases`` maps an output name to the alias its kernel allows; ``scratch`` maps a step
    index to the scratch bytes its kernel needs.
    """
    sizes = dict(sizes)
    for index, nbytes in sorted((scratch or {}).items()):
        if nbytes > 0:
            name = scratch_name(index)
            sizes[name] = nbytes
            steps = [*steps[:index], (steps[index][0] + [name], steps[index][1] + [name]),
                     *steps[index + 1:]]
    lifetimes = compute_lifetimes(steps, set(sizes))
    candidates = []
    for label, allowed in (("in-place", aliases or {}), ("views", _views_only(aliases))):
        groups, applied = _form_groups(steps, sizes, lifetimes, allowed)
        for strategy, placement in _placements(groups, lifetimes, sizes):
            candidates.append((placement[1], f"{strategy}, {label}", placement[0], applied))
    arena, strategy, offsets, applied = min(candidates, key=lambda c: c[0])
    plan = MemoryPlan(
        offsets=offsets, lifetimes=lifetimes, sizes=sizes, arena_bytes=_align(arena),
        aliases=applied, strategy=strategy, steps=steps,
    )
    check_plan(plan)
    return plan


def scratch_name(step: int) -> str:
    return f"scratch:{step}"


def _views_only(aliases: dict[str, Alias] | None) -> dict[str, Alias]:
    return {name: a for name, a in (aliases or {}).items() if a.kind == VIEW}


def _form_groups(
    steps: list[Step], sizes: dict[str, int], lifetimes: dict[str, tuple[int, int]],
    aliases: dict[str, Alias],
) -> tuple[list[list[_Member]], dict[str, Alias]]:
    """Join outputs to their inputs' groups where the aliases allow it (module doc, step 2)."""
    group_of: dict[str, list[_Member]] = {}
    applied: dict[str, Alias] = {}
    for index, (inputs, outputs) in enumerate(steps):
        for name in outputs:
            if name not in lifetimes:
                continue
            alias = aliases.get(name)
            group = group_of.get(alias.source) if alias else None
            if group is not None and _may_join(alias, group, index, inputs):
                base = next(m for m in group if m.name == alias.source).offset
                group.append(_Member(name, base + alias.offset, sizes[name], *lifetimes[name]))
                applied[name] = alias
            else:
                group = [_Member(name, 0, sizes[name], *lifetimes[name])]
            group_of[name] = group
    groups = list({id(g): g for g in group_of.values()}.values())
    for group in groups:
        low = min(m.offset for m in group)
        for member in group:
            member.offset -= low
    return groups, applied


def _may_join(alias: Alias, group: list[_Member], index: int, inputs: list[str]) -> bool:
    if alias.kind == VIEW:
        return True
    names = {m.name for m in group}
    if any(m.last > index for m in group):
        return False  # someone reads these bytes after this step
    return [name for name in inputs if name in names] == [alias.source]


def _placements(groups, lifetimes, sizes):
    """Yield (strategy, (offsets, arena)) for every placement order worth trying."""
    def span(group):
        return max(m.offset + m.size for m in group)

    def key_name(group):
        return min(m.name for m in group)

    def first(group):
        return min(m.first for m in group)

    def length(group):
        return max(m.last for m in group) - first(group)

    orders = {
        "greedy by size": sorted(groups, key=lambda g: (-span(g), key_name(g))),
        "greedy by lifetime": sorted(groups, key=lambda g: (-length(g), -span(g), key_name(g))),
        "first use": sorted(groups, key=lambda g: (first(g), -span(g), key_name(g))),
        "greedy by breadth": _breadth_order(groups, lifetimes, sizes),
    }
    for strategy, order in orders.items():
        yield strategy, _place(order)
    if len(groups) <= EXACT_MAX_GROUPS:
        best = min((_place(order) for order in orders.values()), key=lambda p: p[1])
        yield "exhaustive search", _exhaustive(groups, best)


def _breadth_order(groups, lifetimes, sizes):
    """Groups of the steps with the most live bytes first, largest group first per step."""
    steps = max((last for _, last in lifetimes.values()), default=-1) + 1
    breadth = [0] * steps
    for name, (first, last) in lifetimes.items():
        for step in range(first, last + 1):
            breadth[step] += sizes[name]
    order, seen = [], set()
    for step in sorted(range(steps), key=lambda s: (-breadth[s], s)):
        live = [g for g in groups if id(g) not in seen and
                any(m.first <= step <= m.last for m in g)]
        for group in sorted(live, key=lambda g: (-max(m.offset + m.size for m in g),
                                                 min(m.name for m in g))):
            seen.add(id(group))
            order.append(group)
    return order


def _lowest_offset(group: list[_Member], placed: list[tuple[int, int, int, int]]) -> int:
    """Lowest aligned base offset where no member overlaps a placed one in bytes and steps."""
    forbidden = []
    for member in group:
        for start, end, first, last in placed:
            if last < member.first or member.last < first:
                continue
            forbidden.append((start - member.offset - member.size, end - member.offset))
    # A base strictly between low and high overlaps. Sweeping by low, the base only grows,
    # so every interval already passed stays behind it.
    base = 0
    for low, high in sorted(forbidden):
        if base <= low:
            break
        base = max(base, _align(high))
    return base


def _place(order: list[list[_Member]]) -> tuple[dict[str, int], int]:
    placed: list[tuple[int, int, int, int]] = []
    offsets: dict[str, int] = {}
    arena = 0
    for group in order:
        base = _lowest_offset(group, placed)
        for member in group:
            start = base + member.offset
            placed.append((start, start + member.size, member.first, member.last))
            offsets[member.name] = start
            arena = max(arena, start + member.size)
    return offsets, arena


def _exhaustive(groups, best):
    """Branch and bound over placement orders; returns the best (offsets, arena) found."""
    budget = [EXACT_BUDGET]
    best = [best]

    def search(remaining, placed, offsets, arena):
        if arena >= best[0][1] or budget[0] <= 0:
            return
        if not remaining:
            best[0] = (dict(offsets), arena)
            return
        for index, group in enumerate(remaining):
            budget[0] -= 1
            base = _lowest_offset(group, placed)
            blocks = [(base + m.offset, base + m.offset + m.size, m.first, m.last) for m in group]
            new_offsets = dict(offsets, **{m.name: base + m.offset for m in group})
            top = max([arena] + [end for _, end, _, _ in blocks])
            search(remaining[:index] + remaining[index + 1:], placed + blocks, new_offsets, top)

    search(list(groups), [], {}, 0)
    return best[0]


def _view_root(name: str, aliases: dict[str, Alias]) -> str:
    while name in aliases and aliases[name].kind == VIEW:
        name = aliases[name].source
    return name


def check_plan(plan: MemoryPlan) -> None:
    """Raise AssertionError if two tensors live at the same step share bytes unlawfully."""
    names = sorted(plan.offsets)
    for a, b in itertools.combinations(names, 2):
        (fa, la), (fb, lb) = plan.lifetimes[a], plan.lifetimes[b]
        if la < fb or lb < fa:
            continue
        sa, sb = plan.offsets[a], plan.offsets[b]
        if sa + plan.sizes[a] <= sb or sb + plan.sizes[b] <= sa:
            continue
        if _lawful_overlap(plan, a, b) or _lawful_overlap(plan, b, a):
            continue
        raise AssertionError(
            f"arena plan overlap: '{a}' [{sa}, {sa + plan.sizes[a]}) steps {fa}-{la} and "
            f"'{b}' [{sb}, {sb + plan.sizes[b]}) steps {fb}-{lb}"
        )
    if any(plan.offsets[n] + plan.sizes[n] > plan.arena_bytes for n in names):
        raise AssertionError("arena plan: a tensor ends beyond the arena")


def _lawful_overlap(plan: MemoryPlan, earlier: str, later: str) -> bool:
    """Views of the same bytes, or an in-place output over the input it replaces."""
    aliases = plan.aliases
    if _view_root(earlier, aliases) == _view_root(later, aliases):
        return plan.offsets[earlier] == plan.offsets[later]
    alias = aliases.get(later)
    return (
        alias is not None and alias.kind == IN_PLACE
        and _view_root(alias.source, aliases) == _view_root(earlier, aliases)
        and plan.lifetimes[earlier][1] == plan.lifetimes[later][0]
    )
