"""Unit tests of the arena planner, the in-place rules and the schedule choice."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgec.codegen.generator import build_model_code
from edgec.ir import Node
from edgec.memory import Alias, check_plan, choose_schedule, plan_memory
from edgec.memory.aliasing import ALIGNMENT, IN_PLACE, VIEW, window_offset
from edgec.memory.planner import MemoryPlan
from edgec.memory.schedule import peak_live_bytes, topological_orders
from edgec.pipeline import load_quantized
from tests.conftest import MLPERF_TINY


def _window_is_safe(in_hwc, out_hwc, kernel, strides, dilations, pads, offset) -> bool:
    """Simulate the reference window kernel's loop order on bytes placed ``offset`` apart."""
    in_h, in_w, in_c = in_hwc
    out_h, out_w, out_c = out_hwc
    reads = []  # input byte ranges read by each output pixel, in write order
    for oy, ox in itertools.product(range(out_h), range(out_w)):
        taps = [
            (oy * strides[0] - pads[0] + ky * dilations[0],
             ox * strides[1] - pads[1] + kx * dilations[1])
            for ky in range(kernel[0]) for kx in range(kernel[1])
        ]
        inside = [(y * in_w + x) * in_c for y, x in taps if 0 <= y < in_h and 0 <= x < in_w]
        reads.append(min(inside) if inside else None)
    for pixel in range(len(reads)):
        later = [r for r in reads[pixel:] if r is not None]
        lowest_read = min(later) if later else in_h * in_w * in_c
        written_end = offset + (pixel + 1) * out_c
        if written_end > lowest_read and offset + pixel * out_c < in_h * in_w * in_c:
            return False
    return True


WINDOW_CASES = [
    # in_hwc, out_hwc, kernel, strides, dilations, pads (top, left, bottom, right)
    ((8, 8, 16), (8, 8, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ((8, 8, 16), (4, 4, 32), (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
    ((6, 6, 3), (6, 6, 5), (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
    ((7, 5, 8), (7, 5, 16), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # channel multiplier 2
    ((10, 10, 4), (5, 5, 4), (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),  # pooling
    ((5, 5, 8), (1, 1, 8), (5, 5), (1, 1), (1, 1), (0, 0, 0, 0)),  # global pooling
    ((4, 4, 2), (4, 4, 2), (5, 5), (1, 1), (1, 1), (3, 3, 1, 1)),  # pads larger than stride
]


@pytest.mark.parametrize("in_hwc, out_hwc, kernel, strides, dilations, pads", WINDOW_CASES)
def test_window_offset_safe_and_tight(
    in_hwc, out_hwc, kernel, strides, dilations, pads
):
    offset = window_offset(in_hwc, out_hwc, strides, pads)

    assert offset % ALIGNMENT == 0
    assert offset < 0
    assert _window_is_safe(in_hwc, out_hwc, kernel, strides, dilations, pads, offset)
    assert not _window_is_safe(
        in_hwc, out_hwc, kernel, strides, dilations, pads, offset + ALIGNMENT
    )


def _chain_steps(count: int) -> list[tuple[list[str], list[str]]]:
    return [([f"t{i - 1}"] if i else ["in"], [f"t{i}"]) for i in range(count)]


def test_plan_chain_two_tensors_live():
    sizes = {f"t{i}": 100 for i in range(4)}

    plan = plan_memory(_chain_steps(4), sizes)

    assert plan.arena_bytes == 224  # two 100-byte tensors, each aligned to 112
    assert plan.offsets["t0"] == plan.offsets["t2"]


def test_plan_in_place_overwrites_dying_input():
    sizes = {"t0": 160, "t1": 160}
    aliases = {"t1": Alias("t0", 0, IN_PLACE)}

    plan = plan_memory(_chain_steps(2), sizes, aliases)

    assert plan.arena_bytes == 160
    assert plan.offsets == {"t0": 0, "t1": 0}
    assert "t1" in plan.aliases


def test_plan_in_place_rejected_when_read_later():
    steps = [(["in"], ["a"]), (["a"], ["b"]), (["a", "b"], ["c"])]
    sizes = {"a": 64, "b": 64, "c": 64}

    plan = plan_memory(steps, sizes, {"b": Alias("a", 0, IN_PLACE)})

    assert "b" not in plan.aliases
    assert plan.offsets["a"] != plan.offsets["b"]


def test_plan_view_shares_live_source_bytes():
    steps = [(["in"], ["a"]), (["a"], ["v"]), (["v"], ["b"]), (["a", "b"], ["c"])]
    sizes = {"a": 64, "v": 64, "b": 64, "c": 64}

    plan = plan_memory(steps, sizes, {"v": Alias("a", 0, VIEW)})

    assert plan.offsets["v"] == plan.offsets["a"]
    assert plan.arena_bytes == 192


def test_plan_scratch_live_one_step():
    sizes = {f"t{i}": 64 for i in range(3)}

    plan = plan_memory(_chain_steps(3), sizes, scratch={1: 48})

    assert plan.lifetimes["scratch:1"] == (1, 1)
    scratch = range(plan.offsets["scratch:1"], plan.offsets["scratch:1"] + 48)
    for name in ("t0", "t1"):
        assert plan.offsets[name] + 64 <= scratch.start or scratch.stop <= plan.offsets[name]


def test_check_plan_rejects_live_tensors_that_share_bytes():
    plan = MemoryPlan(
        offsets={"a": 0, "b": 32}, lifetimes={"a": (0, 2), "b": (1, 2)},
        sizes={"a": 64, "b": 64}, arena_bytes=96,
    )

    with pytest.raises(AssertionError, match="overlap"):
        check_plan(plan)


def _optimum_by_grid(sizes: dict[str, int], lifetimes: dict[str, tuple[int, int]]) -> int:
    """The smallest arena over every placement on a 16-byte grid (exhaustive, tiny cases)."""
    names = sorted(sizes)
    top = sum(sizes.values())
    best = top
    grid = range(0, top, ALIGNMENT)
    for offsets in itertools.product(grid, repeat=len(names)):
        end = max(o + sizes[n] for o, n in zip(offsets, names))
        if end >= best:
            continue
        ok = all(
            lifetimes[a][1] < lifetimes[b][0] or lifetimes[b][1] < lifetimes[a][0]
            or oa + sizes[a] <= ob or ob + sizes[b] <= oa
            for (a, oa), (b, ob) in itertools.combinations(zip(names, offsets), 2)
        )
        if ok:
            best = end
    return best


@pytest.mark.parametrize("seed", range(6))
def test_plan_small_graph_reaches_the_optimum(seed):
    rng = np.random.default_rng(seed)
    count = 5
    steps = [(["in"], [f"t{i}"]) for i in range(count)]
    sizes = {f"t{i}": int(rng.integers(1, 5)) * ALIGNMENT for i in range(count)}
    readers = []
    for i in range(count):  # each tensor is read by a random later step
        last = int(rng.integers(i, count + 1))
        readers.append(last)
    steps.append(([], []))
    for i, last in enumerate(readers):
        steps[last][0].append(f"t{i}")

    plan = plan_memory(steps, sizes)

    assert plan.arena_bytes == _optimum_by_grid(sizes, plan.lifetimes)


def _residual_block() -> list[Node]:
    return [
        Node("conv2d", "stem", ["in"], ["x"]),
        Node("conv2d", "main1", ["x"], ["a"]),
        Node("conv2d", "main2", ["a"], ["b"]),
        Node("conv2d", "skip", ["x"], ["s"]),
        Node("add", "join", ["b", "s"], ["y"]),
        Node("conv2d", "head", ["y"], ["out"]),
    ]


def test_schedule_lists_every_order_of_a_residual_block():
    orders = topological_orders(_residual_block())

    assert orders[0] == [0, 1, 2, 3, 4, 5]
    assert sorted(orders) == [[0, 1, 2, 3, 4, 5], [0, 1, 3, 2, 4, 5], [0, 3, 1, 2, 4, 5]]


def test_schedule_residual_block_runs_skip_before_main2():
    nodes = _residual_block()
    sizes = {"x": 1024, "a": 1024, "b": 1024, "s": 64, "y": 1024}

    def plan_for(order):
        steps = [(list(n.inputs), list(n.outputs)) for n in order]
        return plan_memory(steps, sizes)

    order, plan = choose_schedule(nodes, sizes, plan_for)

    names = [n.name for n in order]
    # In model order, x, a and b are all live when main2 runs (3 KB). Running the skip
    # branch first lets x die before main2.
    assert names.index("skip") < names.index("main2")
    assert plan.arena_bytes < plan_for(nodes).arena_bytes
    assert peak_live_bytes(nodes, [0, 1, 2, 3, 4, 5], sizes) == 3072
    assert peak_live_bytes(nodes, [0, 3, 1, 2, 4, 5], sizes) == 2112


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_plan_real_model_lawful(models, name):
    model = models / "tflite" / f"{name}_int8.tflite"
    graph = load_quantized(model, quiet=True)
    code = build_model_code(graph, "model", model)
    plain = plan_memory(code.plan.steps, code.plan.sizes)

    check_plan(code.plan)
    assert code.plan.arena_bytes <= plain.arena_bytes
    assert set(code.plan.sizes) == set(code.plan.offsets)
