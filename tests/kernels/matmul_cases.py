"""Kernel test cases of the matmul transformer kernels.

``PROGRAMS`` lists (program name, C sources in runtime_c/kernels/ref, case builder). The
call builders below are written from runtime_c/include/edgec/kernels_matmul.h, independently
of ``edgec.lower.calls_matmul``. Every program covers the MiniLM shapes: 12 heads of 32 x 32
attention, a 384-wide embedding and pooling. It also covers sizes of 1, odd sizes, zero
points -128 and 127, saturation, extreme multipliers and the largest sums the params accept.
The last cases pass invalid arguments, which the kernel must reject without writing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from edgec.ir import DTYPES, Graph, Node
from edgec.lower.params import kernel_params
from edgec.lower.params_matmul import MAX_MATMUL_DEPTH
from tests.conftest import models_dir
from tests.kernels.bench import KernelCase, untouched_output
from tests.kernels.calls import builds
from tests.kernels.matmul_graphs import (
    batch_matmul_case,
    gather_case,
    inverse_sqrt,
    masked_mean_case,
    softmax_probabilities,
)

EDGEC_ERROR_ARGUMENT = 1

# Q31 multipliers of 2**31 - 1 (shift -8) need a real multiplier within 2**-32 of a power
# of two. These float32 scales give (1 + 2**-15) * (1 - 2**-16) * 2**-8 / (1 + 2**-16),
# which is 2**-8 * (1 - 2**-31 + 2**-47).
NEAR_ONE_INPUT_SCALE = float(np.float32(1 + 2**-15))
NEAR_ONE_OUTPUT_SCALE = float(np.float32(1 + 2**-16))
NEAR_MAX_SECOND_SCALE = float(np.float32((1 - 2**-16) * 2**-8))


# --- call builders ---------------------------------------------------------------------------


def _feed(graph: Graph, feeds: dict, name: str) -> np.ndarray:
    return np.asarray(feeds[name], dtype=DTYPES[graph.tensors[name].dtype])


@builds("batch_matmul")
def _batch_matmul_call(node: Node, graph: Graph, feeds: dict):
    params = kernel_params(node, graph)
    shape1 = graph.tensors[node.inputs[0]].shape
    shape2 = graph.tensors[node.inputs[1]].shape
    keys = ("input1_offset", "input2_offset", "output_offset", "output_multiplier",
            "output_shift", "activation_min", "activation_max")
    fields = {
        "params": {key: params[key] for key in keys},
        "batches": int(np.prod(shape1[:-2], dtype=np.int64)),
        "rows": shape1[-2],
        "depth": shape1[-1],
        "columns": shape2[-1],
    }
    arrays = {
        "input1": _feed(graph, feeds, node.inputs[0]),
        "input2": _feed(graph, feeds, node.inputs[1]),
    }
    int16 = graph.tensors[node.outputs[0]].dtype == "int16"
    return ("batch_matmul_s16" if int16 else "batch_matmul"), fields, arrays


@builds("gather")
def _gather_call(node: Node, graph: Graph, feeds: dict):
    table = graph.tensors[node.inputs[0]]
    indices = _feed(graph, feeds, node.inputs[1])
    fields = {"table_rows": table.shape[0], "row_size": table.shape[1], "count": indices.size}
    return "gather", fields, {"table": table.data, "indices": indices}


@builds("masked_mean")
def _masked_mean_call(node: Node, graph: Graph, feeds: dict):
    params = kernel_params(node, graph)
    batches, rows, channels = graph.tensors[node.inputs[0]].shape
    keys = ("input_offset", "output_offset", "output_multiplier", "output_shift",
            "activation_min", "activation_max")
    fields = {
        "params": {key: params[key] for key in keys},
        "batches": batches,
        "rows": rows,
        "channels": channels,
    }
    arrays = {
        "input": _feed(graph, feeds, node.inputs[0]),
        "mask": _feed(graph, feeds, node.inputs[1]),
    }
    return "masked_mean", fields, arrays


# --- invalid arguments -----------------------------------------------------------------------


def rejected(case: KernelCase, name: str, change: Callable[[KernelCase], None]) -> KernelCase:
    """Copy ``case`` under ``name`` and let ``change`` make its arguments invalid.

    The kernel must return EDGEC_ERROR_ARGUMENT and leave the output untouched.
    """
    bad = copy.deepcopy(case)
    bad.name = name
    bad.symbols = {}
    change(bad)
    bad.expected = untouched_output(case.output_size)
    bad.expected_status = EDGEC_ERROR_ARGUMENT
    return bad


def set_field(*path_and_value) -> Callable[[KernelCase], None]:
    """Return a change that sets ``case.fields[key1][key2]...`` to the last argument."""
    *path, value = path_and_value

    def change(case: KernelCase) -> None:
        target = case.fields
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def set_fields(*changes: tuple) -> Callable[[KernelCase], None]:
    """Return a change that applies ``set_field`` to each of ``changes``."""
    def change(case: KernelCase) -> None:
        for path_and_value in changes:
            set_field(*path_and_value)(case)

    return change


def set_array_value(role: str, index: int, value: int) -> Callable[[KernelCase], None]:
    """Return a change that sets element ``index`` (flat) of array ``role`` to ``value``."""
    def change(case: KernelCase) -> None:
        values = case.arrays[role].copy()
        values.ravel()[index] = value
        case.arrays[role] = values

    return change


# --- batch_matmul ----------------------------------------------------------------------------


def _largest_sums(depth: int, sign: int, scales: tuple[float, float]) -> dict:
    """Build inputs whose first output column sums to sign * 255 * 255 * depth.

    That sum is just below 2**31 in magnitude for the largest depth. The second column sums
    to sign * 255 * 128 * depth.

    input1 is all 127 with zero point -128, so every centered value is 255. For a positive
    sign input2 has zero point -128 and columns of 127 and 0 (centered 255 and 128). For a
    negative sign it has zero point 127 and columns of -128 and -1 (centered -255 and -128).
    """
    zero_point2 = -128 if sign > 0 else 127
    columns = np.array([127, 0] if sign > 0 else [-128, -1], dtype=np.int8)
    return {
        "rows": 1, "depth": depth, "columns": 2,
        "values1": np.full((1, depth), 127, dtype=np.int8),
        "values2": np.tile(columns, (depth, 1)),
        "quant1": (scales[0], -128),
        "quant2": (scales[1], zero_point2),
    }


def _extreme_matmul_cases(rng: np.random.Generator, output_dtype: str) -> list[KernelCase]:
    """Build cases with multipliers and shifts at the ends of their range, and the largest sums."""
    extremes = {"output_dtype": output_dtype}
    depth = MAX_MATMUL_DEPTH
    smallest_multiplier_scale = float(np.float32(2**-20 / (1.5 * 2**-32)))
    cases = [
        batch_matmul_case(
            "largest positive sums (depth 33025), smallest multiplier (shift -31)", rng,
            **_largest_sums(depth, 1, (2**-10, 2**-10)),
            output_quant=(smallest_multiplier_scale, 0), **extremes),
        batch_matmul_case(
            "largest negative sums (depth 33025), smallest multiplier (shift -31)", rng,
            **_largest_sums(depth, -1, (2**-10, 2**-10)),
            output_quant=(smallest_multiplier_scale, 0), **extremes),
        batch_matmul_case(
            "largest positive sums, multiplier 2**31 - 1 saturates", rng,
            **_largest_sums(depth, 1, (NEAR_ONE_INPUT_SCALE, NEAR_MAX_SECOND_SCALE)),
            output_quant=(NEAR_ONE_OUTPUT_SCALE, 0), **extremes),
        batch_matmul_case(
            "multiplier 2**31 - 1 on random data", rng, rows=5, depth=9, columns=6,
            quant1=(NEAR_ONE_INPUT_SCALE, 3), quant2=(NEAR_MAX_SECOND_SCALE, -2),
            output_quant=(NEAR_ONE_OUTPUT_SCALE * 2, 0), **extremes),
        batch_matmul_case(
            "real multiplier below 2**-32 flushes to the zero point", rng, rows=3, depth=8,
            columns=4, quant1=(2**-12, 0), quant2=(2**-12, 0),
            output_quant=(float(np.float32(2**-24 / 2**-33)), 0), **extremes),
    ]
    # Depth 1 with zero points 0: sums up to 128 * 128 = 2**14 allow a left shift of 16.
    small = np.array([0, 1, -1, 2, -2, 3, -128, 127], dtype=np.int8)
    cases.append(batch_matmul_case(
        "depth 1, left shift 16 (the largest the params allow)", rng, rows=8, depth=1,
        columns=8, values1=small.reshape(8, 1), values2=small.reshape(1, 8),
        quant1=(1.0, 0), quant2=(1.0, 0),
        output_quant=(float(np.float32(1 / (1.3 * 2**15))), 0), **extremes))
    small_values = np.arange(-5, 6, dtype=np.int8)
    cases.append(batch_matmul_case(
        "left shift 2 (real multiplier 3.7), small sums", rng, rows=11, depth=2, columns=11,
        values1=np.stack([small_values, small_values[::-1]], axis=1),
        values2=np.stack([small_values, np.roll(small_values, 3)], axis=0),
        quant1=(1.0, 0), quant2=(1.0, 0), output_quant=(float(np.float32(1 / 3.7)), 0),
        **extremes))
    return cases


def _common_matmul_cases(rng: np.random.Generator, output_dtype: str) -> list[KernelCase]:
    """Build the cases of both batch_matmul kernels. The output dtype picks the kernel."""
    dtype = {"output_dtype": output_dtype}
    heads = (1, 12)
    attention_scale = inverse_sqrt(32)
    probabilities = softmax_probabilities(rng, heads + (32, 32))
    cases = [
        batch_matmul_case("MiniLM Q x K^T: 12 heads of 32x32x32, alpha 1/sqrt(32)", rng,
                          batch=heads, rows=32, depth=32, columns=32, alpha=attention_scale,
                          quant1=(0.09, 5), quant2=(0.08, -7), **dtype),
        batch_matmul_case("MiniLM probabilities x V: zero point -128, scale 1/256", rng,
                          batch=heads, rows=32, depth=32, columns=32, values1=probabilities,
                          quant1=(1 / 256, -128), quant2=(0.05, 3), **dtype),
        batch_matmul_case("depth 1", rng, batch=(2,), rows=4, depth=1, columns=5, **dtype),
        batch_matmul_case("one row", rng, batch=(3,), rows=1, depth=17, columns=20, **dtype),
        batch_matmul_case("one column", rng, batch=(3,), rows=7, depth=13, columns=1, **dtype),
        batch_matmul_case("1x1x1 without batch dimensions", rng, rows=1, depth=1, columns=1,
                          **dtype),
        batch_matmul_case("odd sizes 7x9x11, batch 3", rng, batch=(3,), rows=7, depth=9,
                          columns=11, **dtype),
        batch_matmul_case("columns 16: one full tile", rng, rows=3, depth=5, columns=16,
                          **dtype),
        batch_matmul_case("columns 33: two full tiles and one column", rng, rows=2, depth=6,
                          columns=33, **dtype),
        batch_matmul_case("2-D product 6x40x18", rng, rows=6, depth=40, columns=18, **dtype),
        batch_matmul_case("4-D batch (2, 3)", rng, batch=(2, 3), rows=3, depth=4, columns=5,
                          **dtype),
        batch_matmul_case("zero points -128 and 127", rng, batch=(2,), rows=5, depth=12,
                          columns=9, quant1=(0.03, -128), quant2=(0.04, 127), **dtype),
        batch_matmul_case("zero points 127 and -128", rng, batch=(2,), rows=5, depth=12,
                          columns=9, quant1=(0.03, 127), quant2=(0.04, -128), **dtype),
        batch_matmul_case("alpha 2.5", rng, rows=4, depth=10, columns=7, alpha=2.5, **dtype),
        batch_matmul_case("depth 300", rng, rows=3, depth=300, columns=17, **dtype),
    ]
    return cases + _extreme_matmul_cases(rng, output_dtype)


def _random_matmul_cases(rng: np.random.Generator, count: int,
                         output_dtype: str) -> list[KernelCase]:
    cases = []
    for index in range(count):
        batch = tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(0, 3)))
        rows, depth, columns = (int(v) for v in rng.integers(1, 24, size=3))
        quant1 = (float(rng.uniform(0.001, 0.2)), int(rng.integers(-128, 128)))
        quant2 = (float(rng.uniform(0.001, 0.2)), int(rng.integers(-128, 128)))
        cases.append(batch_matmul_case(
            f"random {index}: {batch} x {rows}x{depth}x{columns}", rng, batch=batch,
            rows=rows, depth=depth, columns=columns, quant1=quant1, quant2=quant2,
            alpha=float(rng.uniform(0.1, 2.0)), output_dtype=output_dtype))
    return cases


def _matmul_rejections(valid: KernelCase) -> list[KernelCase]:
    return [
        rejected(valid, "rejects depth 0", set_field("depth", 0)),
        rejected(valid, "rejects depth 33026", set_field("depth", MAX_MATMUL_DEPTH + 1)),
        rejected(valid, "rejects negative batches", set_field("batches", -1)),
        rejected(valid, "rejects negative rows", set_field("rows", -2)),
        rejected(valid, "rejects negative columns", set_field("columns", -1)),
        rejected(valid, "rejects input1_offset 129", set_field("params", "input1_offset", 129)),
        rejected(valid, "rejects input2_offset -128",
                 set_field("params", "input2_offset", -128)),
        rejected(valid, "rejects a negative multiplier",
                 set_field("params", "output_multiplier", -5)),
    ]


def batch_matmul_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6101)
    cases = _common_matmul_cases(rng, "int8")
    cases.append(batch_matmul_case(
        "saturates at -128 and 127, output zero point 127", rng, batch=(2,), rows=6, depth=20,
        columns=7, quant1=(0.05, 0), quant2=(0.05, 0), output_quant=(0.002, 127)))
    cases.append(batch_matmul_case(
        "saturates, output zero point -128", rng, rows=6, depth=20, columns=7,
        quant1=(0.05, 10), quant2=(0.05, -10), output_quant=(0.002, -128)))
    valid = cases[0]
    cases += _matmul_rejections(valid)
    cases += [
        rejected(valid, "rejects activation_max 128", set_field("params", "activation_max", 128)),
        rejected(valid, "rejects activation_min > activation_max",
                 set_fields(("params", "activation_min", 100), ("params", "activation_max", 99))),
    ]
    return cases + _random_matmul_cases(rng, 12, "int8")


def batch_matmul_s16_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6102)
    cases = _common_matmul_cases(rng, "int16")
    cases.append(batch_matmul_case(
        "saturates at -32768 and 32767", rng, batch=(2,), rows=6, depth=20, columns=7,
        quant1=(0.05, 0), quant2=(0.05, 0), output_quant=(2e-5, 0), output_dtype="int16"))
    valid = cases[0]
    cases += _matmul_rejections(valid)
    cases += [
        rejected(valid, "rejects output_offset 1", set_field("params", "output_offset", 1)),
        rejected(valid, "rejects activation_max 32768",
                 set_field("params", "activation_max", 32768)),
        rejected(valid, "rejects activation_min below -32768",
                 set_field("params", "activation_min", -32769)),
    ]
    return cases + _random_matmul_cases(rng, 12, "int16")


# --- gather ----------------------------------------------------------------------------------


def gather_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6103)
    rows = 300
    cases = [
        gather_case("MiniLM-like: 32 token ids into a 300x384 table", rng, table_rows=rows,
                    row_size=384, indices=rng.integers(0, rows, size=(1, 32))),
        gather_case("first and last rows, and the same by negative indices", rng,
                    table_rows=rows, row_size=24, indices=[0, rows - 1, -rows, -1, 1, -2]),
        gather_case("repeated indices", rng, table_rows=10, row_size=8,
                    indices=[3, 3, 3, 7, 3, 7]),
        gather_case("1-D indices", rng, table_rows=50, row_size=16,
                    indices=rng.integers(0, 50, size=9)),
        gather_case("2-D indices (3, 4)", rng, table_rows=50, row_size=16,
                    indices=rng.integers(-50, 50, size=(3, 4))),
        gather_case("3-D indices (2, 2, 3)", rng, table_rows=20, row_size=5,
                    indices=rng.integers(0, 20, size=(2, 2, 3))),
        gather_case("row size 1", rng, table_rows=40, row_size=1,
                    indices=rng.integers(0, 40, size=17)),
        gather_case("odd row size 7", rng, table_rows=13, row_size=7,
                    indices=rng.integers(0, 13, size=11)),
        gather_case("one index", rng, table_rows=30, row_size=12, indices=[17]),
        gather_case("no indices", rng, table_rows=30, row_size=12,
                    indices=np.zeros((0,), dtype=np.int32)),
        gather_case("table of one row, index 0 and -1", rng, table_rows=1, row_size=9,
                    indices=[0, -1, 0]),
        gather_case("table zero point -128", rng, table_rows=25, row_size=10,
                    indices=rng.integers(0, 25, size=6), quant=(0.01, -128)),
        gather_case("table zero point 127", rng, table_rows=25, row_size=10,
                    indices=rng.integers(0, 25, size=6), quant=(0.01, 127)),
        gather_case("table values -128 and 127 only", rng, table_rows=4, row_size=6,
                    indices=[0, 1, 2, 3],
                    table=np.where(rng.random((4, 6)) < 0.5, -128, 127)),
        gather_case("batch of 2 sentences, 32 ids each", rng, table_rows=rows, row_size=64,
                    indices=rng.integers(0, rows, size=(2, 32))),
    ]
    cases += _real_embedding_cases(rng)
    valid = cases[1]
    count = valid.fields["count"]
    cases += [
        rejected(valid, "rejects index == table rows at the first position",
                 set_array_value("indices", 0, rows)),
        rejected(valid, "rejects index -rows - 1 at the last position",
                 set_array_value("indices", count - 1, -rows - 1)),
        rejected(valid, "rejects the largest int32 index",
                 set_array_value("indices", 2, 2**31 - 1)),
        rejected(valid, "rejects the smallest int32 index",
                 set_array_value("indices", 3, -(2**31))),
        rejected(valid, "rejects table rows 0", set_field("table_rows", 0)),
        rejected(valid, "rejects a negative row size", set_field("row_size", -1)),
        rejected(valid, "rejects a negative count", set_field("count", -1)),
    ]
    return cases


def _real_embedding_cases(rng: np.random.Generator) -> list[KernelCase]:
    """Build a gather of the real MiniLM token ids of two calibration sentences.

    The rows come from a table of random rows, because the real 30522 x 384 table is too
    large for a test program. Returns no case when the calibration data is absent.
    """
    path = models_dir() / "data" / "calib" / "minilm.npz"
    if not path.is_file():
        return []
    with np.load(path) as data:
        ids = data["input_ids"][:2].astype(np.int64)
    # Keep the ids' order and repetitions, mapped to rows of a smaller table.
    unique, remapped = np.unique(ids, return_inverse=True)
    return [gather_case(f"real MiniLM token ids of 2 sentences ({unique.size} distinct)", rng,
                        table_rows=unique.size, row_size=384,
                        indices=remapped.reshape(ids.shape))]


# --- masked_mean -----------------------------------------------------------------------------


def _prefix_mask(lengths, rows: int) -> np.ndarray:
    """Return a mask of ones on the first ``length`` rows of each batch and zeros after."""
    return (np.arange(rows)[np.newaxis, :] < np.asarray(lengths)[:, np.newaxis]).astype(np.int32)


def _real_attention_masks(count: int) -> np.ndarray | None:
    path = models_dir() / "data" / "calib" / "minilm.npz"
    if not path.is_file():
        return None
    with np.load(path) as data:
        return data["attention_mask"][:count].astype(np.int32)


def masked_mean_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6104)
    real_masks = _real_attention_masks(3)
    pooling_mask = real_masks[:1] if real_masks is not None else _prefix_mask([11], 32)
    # Exact halves: with equal scales (multiplier 2**30, shift 1) and 2 counted rows, sums of
    # +-1 and +-3 give means of +-0.5 and +-1.5, which round away from zero.
    halves = np.array([[[1, -1, 3, -3, 0], [0, 0, 0, 0, 0], [9, 9, 9, 9, 9]]], dtype=np.int8)
    cases = [
        masked_mean_case("MiniLM mean pooling: 32 tokens x 384, calibration mask", rng,
                         mask=pooling_mask, channels=384, input_quant=(0.04, -3),
                         output_quant=(0.01, 2)),
        masked_mean_case("every row masked gives the output zero point", rng,
                         mask=np.zeros((1, 32), np.int32), channels=70,
                         input_quant=(0.04, 9), output_quant=(0.02, -17)),
        masked_mean_case("one counted row", rng, mask=_prefix_mask([1], 16), channels=20,
                         input_quant=(0.05, 4), output_quant=(0.03, -6)),
        masked_mean_case("one row, counted", rng, mask=[[1]], channels=33),
        masked_mean_case("one row, masked", rng, mask=[[0]], channels=33,
                         output_quant=(0.05, 100)),
        masked_mean_case("one channel", rng, mask=_prefix_mask([5], 9), channels=1),
        masked_mean_case("channels 64: four full 16-channel tiles", rng, mask=_prefix_mask([7], 10),
                         channels=64),
        masked_mean_case("channels 65: four tiles and one channel", rng,
                         mask=_prefix_mask([7], 10), channels=65),
        masked_mean_case("mask values 7 and -1 count as unmasked", rng,
                         mask=[[7, 0, -1, 0, 1, 0]], channels=12),
        masked_mean_case("input zero point -128, output zero point 127", rng,
                         mask=_prefix_mask([20], 32), channels=40,
                         input_quant=(0.02, -128), output_quant=(0.03, 127)),
        masked_mean_case("input zero point 127, output zero point -128", rng,
                         mask=_prefix_mask([20], 32), channels=40,
                         input_quant=(0.02, 127), output_quant=(0.03, -128)),
        masked_mean_case("saturates at -128 and 127", rng, mask=_prefix_mask([6], 8),
                         channels=50, input_quant=(0.5, 0), output_quant=(0.001, 0)),
        masked_mean_case("exact halves round away from zero", rng, mask=[[1, 0, 1]],
                         channels=5, values=halves, input_quant=(0.1, 0),
                         output_quant=(0.1, 0)),
        masked_mean_case("batch 3 with different masks", rng,
                         mask=real_masks if real_masks is not None else _prefix_mask(
                             [11, 23, 32], 32), channels=48),
        masked_mean_case("random mask over 64 rows", rng,
                         mask=(rng.random((1, 64)) < 0.5).astype(np.int32), channels=100,
                         input_quant=(0.07, -20), output_quant=(0.02, 15)),
        masked_mean_case("real multiplier below 2**-32 flushes to the zero point", rng,
                         mask=_prefix_mask([3], 4), channels=8, input_quant=(2**-20, 0),
                         output_quant=(2**13, 5)),
        masked_mean_case("left shift 12 on sums near 2**31 (2000 rows)", rng,
                         mask=np.ones((1, 2000), np.int32), channels=2,
                         values=_largest_mean_sums(2000), input_quant=(1.0, -128),
                         output_quant=(1 / 3000.0, 0)),
        # Two float32 scales cannot put their ratio within 2**-31 of a power of two, so the
        # largest multiplier they give is (1 - 2**-24) * 2**31 = 2**31 - 128.
        masked_mean_case("largest multiplier of two float32 scales (2**31 - 128)", rng,
                         mask=_prefix_mask([13], 16), channels=30,
                         input_quant=(float(np.float32(1 - 2**-24)), 0),
                         output_quant=(1.0, 0)),
    ]
    valid = cases[0]
    cases += [
        rejected(valid, "rejects negative rows", set_field("rows", -1)),
        rejected(valid, "rejects rows above 8421504", set_field("rows", 8421505)),
        rejected(valid, "rejects negative channels", set_field("channels", -1)),
        rejected(valid, "rejects negative batches", set_field("batches", -1)),
        rejected(valid, "rejects input_offset 129", set_field("params", "input_offset", 129)),
        rejected(valid, "rejects a negative multiplier",
                 set_field("params", "output_multiplier", -1)),
        rejected(valid, "rejects activation_min -129",
                 set_field("params", "activation_min", -129)),
    ]
    return cases + _random_masked_mean_cases(rng, 10)


def _largest_mean_sums(rows: int) -> np.ndarray:
    """Build an input for zero point -128 whose channel 0 sums to 255 * rows, the largest sum.

    Channel 1 sums to 80, a mean that the output can represent after the left shift.
    """
    values = np.full((1, rows, 2), 127, np.int8)
    values[0, :, 1] = -128
    values[0, :80, 1] = -127
    return values


def _random_masked_mean_cases(rng: np.random.Generator, count: int) -> list[KernelCase]:
    cases = []
    for index in range(count):
        batches, rows = int(rng.integers(1, 3)), int(rng.integers(1, 65))
        channels = int(rng.integers(1, 130))
        mask = (rng.random((batches, rows)) < rng.uniform(0.1, 1.0)).astype(np.int32)
        input_quant = (float(rng.uniform(0.001, 0.3)), int(rng.integers(-128, 128)))
        output_quant = (float(input_quant[0] * rng.uniform(0.2, 3.0)),
                        int(rng.integers(-128, 128)))
        cases.append(masked_mean_case(
            f"random {index}: {batches}x{rows}x{channels}", rng, mask=mask,
            channels=channels, input_quant=input_quant, output_quant=output_quant))
    return cases


PROGRAMS = [
    ("batch_matmul", ("batch_matmul_s8.c",), batch_matmul_cases),
    ("batch_matmul_s16", ("batch_matmul_s8_s16.c",), batch_matmul_s16_cases),
    ("gather", ("gather_s8.c",), gather_cases),
    ("masked_mean", ("masked_mean_s8.c",), masked_mean_cases),
]
