"""Error bounds of the integer batch_matmul, masked_mean and gather against float.

Each sweep builds one-node graphs over seeded random shapes, masks, scales and zero points
(including -128 and 127) and runs the reference interpreter in both requantization
roundings. It measures the error in output steps against the float result, clamped to the
output's representable range. The bounds are the ones documented in ``edgec.reference.int_matmul``
and at the top of the C kernels, which match the interpreter bit for bit (tests/kernels).
The sweeps also check that the largest error comes close to the bound, so that a
documented bound far above the real error fails too.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgec.ir import Graph, Node, Quant, Tensor
from edgec.reference import float_ops
from edgec.reference.interpreter import run
from tests.conftest import models_dir

ROUNDINGS = ("double", "single")
# Largest error in output steps, before the 2**-31 relative error of the Q31 multiplier.
MATMUL_BOUNDS = {"double": 0.75, "single": 0.5}
MASKED_MEAN_BOUNDS = {"double": 0.875, "single": 0.75}
MULTIPLIER_RELATIVE_ERROR = 2.0**-31
# The float masked mean returns float32: up to 2**-24 relative error of values below
# 2**14 steps in these sweeps.
FLOAT32_SLACK = 1e-3
# The sweeps must reach the bound within this many steps.
TIGHTNESS = 0.05
OUTPUT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}


def per_tensor(scale: float, zero_point: int) -> Quant:
    return Quant(np.array([scale], np.float32), np.array([zero_point]))


def one_node_graph(op: str, inputs: list[Tensor], output: Tensor, rounding: str,
                   attrs: dict | None = None) -> tuple[Graph, Node]:
    graph = Graph(requantize_rounding=rounding)
    for tensor in inputs + [output]:
        graph.add_tensor(tensor)
    graph.inputs = [t.name for t in inputs if not t.is_constant]
    graph.outputs = [output.name]
    node = Node(op, f"{op}_under_test", [t.name for t in inputs], [output.name], attrs or {})
    graph.nodes.append(node)
    graph.check()
    return graph, node


def random_zero_point(rng: np.random.Generator) -> int:
    """Draw -128, 127 or a uniform int8 zero point, each a third of the time."""
    return int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))


def clamped_steps(real: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Convert ``real`` to output steps (zero point added), clamped to the output type's range."""
    low, high = OUTPUT_RANGES[dtype]
    return np.clip(real / np.float64(scale) + zero_point, low, high)


# --- batch_matmul --------------------------------------------------------------------------


def matmul_errors(rng: np.random.Generator, rounding: str, dtype: str) -> tuple[float, float]:
    """Run one random batch_matmul and return its largest error minus the allowance, and
    its largest error, both in output steps."""
    batch = tuple(int(d) for d in rng.integers(1, 4, size=rng.integers(0, 3)))
    rows, depth, columns = (int(v) for v in rng.integers(1, 40, size=3))
    zero_point1, zero_point2 = random_zero_point(rng), random_zero_point(rng)
    scale1, scale2 = (float(np.float32(10 ** rng.uniform(-4, 0))) for _ in range(2))
    alpha = float(np.float32(rng.uniform(0.05, 3.0)))
    a = rng.integers(-128, 128, batch + (rows, depth))
    b = rng.integers(-128, 128, batch + (depth, columns))
    exact = alpha * np.matmul((a - zero_point1) * np.float64(scale1),
                              (b - zero_point2) * np.float64(scale2))
    # Spread the results over a fraction to ten times the usual output range, so that
    # some outputs saturate.
    steps = (40.0 if dtype == "int8" else 4000.0) * 10 ** rng.uniform(-1.5, 1.0)
    out_scale = float(np.float32((np.std(exact) or 1.0) / steps))
    out_zero_point = random_zero_point(rng) if dtype == "int8" else 0

    graph, _ = one_node_graph(
        "batch_matmul",
        [Tensor("input1", a.shape, "int8", quant=per_tensor(scale1, zero_point1)),
         Tensor("input2", b.shape, "int8", quant=per_tensor(scale2, zero_point2))],
        Tensor("output", batch + (rows, columns), dtype, quant=per_tensor(out_scale,
                                                                         out_zero_point)),
        rounding, {"alpha": alpha})
    out = run(graph, {"input1": a.astype(np.int8), "input2": b.astype(np.int8)})["output"]

    errors = np.abs(out.astype(np.float64)
                    - clamped_steps(exact, out_scale, out_zero_point, dtype))
    allowance = (MATMUL_BOUNDS[rounding]
                 + MULTIPLIER_RELATIVE_ERROR * np.abs(exact / np.float64(out_scale)) + 1e-9)
    return float((errors - allowance).max()), float(errors.max())


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_batch_matmul_error_within_bound(rounding):
    """Sweep int8 and int16 outputs. The int8 ones mostly have right shifts of 8 or more,
    where the double rounding adds little. The int16 ones reach right shifts of 1 and the
    full bound."""
    rng = np.random.default_rng(7100 + ROUNDINGS.index(rounding))
    results = [matmul_errors(rng, rounding, dtype) for dtype in ("int8", "int16")
               for _ in range(300)]
    excess, largest = zip(*results, strict=True)

    assert max(excess) <= 0.0, f"error exceeds the bound by {max(excess):.6f} steps"
    assert max(largest) >= MATMUL_BOUNDS[rounding] - TIGHTNESS


# --- masked_mean ---------------------------------------------------------------------------


def masked_mean_error(rng: np.random.Generator, rounding: str, mask: np.ndarray,
                      channels: int, values: np.ndarray | None = None) -> tuple[float, float]:
    """Run one masked_mean with random scales and zero points; return (largest error minus
    its allowance, largest error), both in output steps."""
    batches, rows = mask.shape
    zero_point, out_zero_point = random_zero_point(rng), random_zero_point(rng)
    scale = float(np.float32(10 ** rng.uniform(-4, 1)))
    out_scale = float(np.float32(scale * 2 ** rng.uniform(-7, 5)))
    x = rng.integers(-128, 128, (batches, rows, channels)) if values is None else values

    graph, node = one_node_graph(
        "masked_mean",
        [Tensor("input", x.shape, "int8", quant=per_tensor(scale, zero_point)),
         Tensor("mask", mask.shape, "int32")],
        Tensor("output", (batches, channels), "int8",
               quant=per_tensor(out_scale, out_zero_point)),
        rounding)
    out = run(graph, {"input": x.astype(np.int8), "mask": mask.astype(np.int32)})["output"]

    dequantized = ((x - zero_point) * np.float64(scale)).astype(np.float32)
    (reference,) = float_ops.masked_mean(node, [dequantized, mask], graph)
    exact_steps = reference.astype(np.float64) / np.float64(out_scale)
    errors = np.abs(out.astype(np.float64)
                    - clamped_steps(reference.astype(np.float64), out_scale, out_zero_point,
                                    "int8"))
    allowance = (MASKED_MEAN_BOUNDS[rounding] + MULTIPLIER_RELATIVE_ERROR * np.abs(exact_steps)
                 + FLOAT32_SLACK)
    return float((errors - allowance).max()), float(errors.max())


def random_mask(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Draw a (1, rows) mask that is all masked, all unmasked, unmasked in one or two rows
    (two give the largest error), or random with a random density."""
    kind = rng.integers(5)
    if kind == 0:
        return np.zeros((1, rows), np.int32)
    if kind == 1:
        return np.ones((1, rows), np.int32)
    if kind in (2, 3):
        mask = np.zeros((1, rows), np.int32)
        mask[0, rng.choice(rows, size=min(kind - 1, rows), replace=False)] = 1
        return mask
    return (rng.random((1, rows)) < rng.uniform(0.05, 1.0)).astype(np.int32)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_masked_mean_error_within_bound(rounding):
    rng = np.random.default_rng(7200 + ROUNDINGS.index(rounding))
    results = []
    for rows in range(1, 65):
        for channels in (1, 384, *rng.integers(2, 384, size=5)):
            results.append(masked_mean_error(rng, rounding, random_mask(rng, rows),
                                             int(channels)))
    excess, largest = zip(*results, strict=True)

    assert max(excess) <= 0.0, f"error exceeds the bound by {max(excess):.6f} steps"
    assert max(largest) >= MASKED_MEAN_BOUNDS[rounding] - TIGHTNESS


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_masked_mean_extreme_inputs_within_bound(rounding):
    """Inputs of only -128 or only 127, so every sum reaches its largest magnitude."""
    rng = np.random.default_rng(7300 + ROUNDINGS.index(rounding))
    for value in (-128, 127):
        for rows in (1, 2, 31, 64):
            mask = random_mask(rng, rows)
            values = np.full((1, rows, 40), value)
            excess, _ = masked_mean_error(rng, rounding, mask, 40, values)

            assert excess <= 0.0, f"value {value}, {rows} rows: {excess:.6f} steps over"


def test_masked_mean_all_masked_gives_zero_point():
    graph, _ = one_node_graph(
        "masked_mean",
        [Tensor("input", (1, 5, 3), "int8", quant=per_tensor(0.1, 17)),
         Tensor("mask", (1, 5), "int32")],
        Tensor("output", (1, 3), "int8", quant=per_tensor(0.3, -41)),
        "double")
    feeds = {"input": np.full((1, 5, 3), 127, np.int8), "mask": np.zeros((1, 5), np.int32)}

    out = run(graph, feeds)["output"]

    assert out.tolist() == [[-41, -41, -41]]


def minilm_calibration() -> dict[str, np.ndarray]:
    path = models_dir() / "data" / "calib" / "minilm.npz"
    if not path.is_file():
        pytest.skip(f"calibration data {path} is absent; set EDGEC_MODELS to the models folder")
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_masked_mean_real_minilm_masks_within_bound(rounding):
    """Mean pooling of 32 x 384 inputs with each of the 64 real MiniLM attention masks."""
    masks = minilm_calibration()["attention_mask"].astype(np.int32)
    rng = np.random.default_rng(7400 + ROUNDINGS.index(rounding))
    for index, mask in enumerate(masks):
        excess, _ = masked_mean_error(rng, rounding, mask[np.newaxis, :], 384)

        assert excess <= 0.0, f"mask {index}: {excess:.6f} steps over the bound"


# --- gather --------------------------------------------------------------------------------


def minilm_word_embeddings() -> np.ndarray:
    """Load the 30522 x 384 word-embedding table of the real MiniLM model."""
    path = models_dir() / "onnx" / "minilm.onnx"
    if not path.is_file():
        pytest.skip(f"model file {path} is absent; set EDGEC_MODELS to the models folder")
    model = onnx.load(str(path))
    for initializer in model.graph.initializer:
        if tuple(initializer.dims) == (30522, 384):
            return numpy_helper.to_array(initializer)
    raise AssertionError(f"{path} has no 30522 x 384 initializer")


def test_gather_real_minilm_embeddings_within_half_step():
    """Rows of the real embedding table at the real token ids: the output is the quantized
    table row, so it is off by at most half a step of the table's scale."""
    table = minilm_word_embeddings()
    ids = minilm_calibration()["input_ids"].astype(np.int32)
    scale = float(np.float32(np.abs(table).max() / 127))
    quantized = np.clip(np.round(table / scale), -127, 127).astype(np.int8)
    graph, node = one_node_graph(
        "gather",
        [Tensor("table", table.shape, "int8", quantized, per_tensor(scale, 0)),
         Tensor("indices", ids.shape, "int32")],
        Tensor("output", ids.shape + (384,), "int8", quant=per_tensor(scale, 0)),
        "double")

    out = run(graph, {"indices": ids})["output"]
    (reference,) = float_ops.gather(node, [table, ids], graph)

    assert np.array_equal(out, quantized[ids])
    assert np.abs(out * np.float64(scale) - reference).max() <= scale / 2 * (1 + 1e-6)
