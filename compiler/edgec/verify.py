"""``edgec verify``: compile, run on the target, and compare with the reference and oracles.

The target's output must equal the reference interpreter's bit for bit; for a TFLite model
it must also equal TFLite Micro's bit for bit. For an ONNX model the float outputs of
onnxruntime are the accuracy reference: agreement figures are printed, not enforced.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.codegen.boundary import split_boundary
from edgec.errors import EdgecError
from edgec.ir import DTYPES, Graph
from edgec.pipeline import generate, kernel_backend, load_quantized
from edgec.reference.interpreter import run_samples
from edgec.runner import DEFAULT_TIMEOUT_S, check_input, run_project
from edgec.targets import load_target


@dataclass
class VerifyResult:
    samples: int
    lines: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    target_outputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def random_inputs(graph: Graph, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` random samples per input covering its whole quantized range."""
    rng = np.random.default_rng(seed)
    boundary = split_boundary(graph)
    feeds = {}
    for port in boundary.inputs:
        if port.quant is None:
            feeds[port.name] = _token_values(graph, port, rng, count)
            continue
        q = rng.integers(-128, 128, size=(count, *port.shape))
        if port.is_float:
            scale, zero_point = float(port.quant.scale[0]), int(port.quant.zero_point[0])
            feeds[port.name] = ((q - zero_point) * scale).astype(np.float32)
        else:
            feeds[port.name] = q.astype(DTYPES[port.io_dtype])
    return feeds


def _token_values(graph: Graph, port, rng: np.random.Generator, count: int) -> np.ndarray:
    """Random values of an unquantized integer input: token ids below the gather table's
    row count, or a 0/1 mask whose first position is 1 (at least one token)."""
    shape = (count, *port.shape)
    tables = [graph.tensors[node.inputs[0]].shape[0] for node in graph.consumers(port.tensor)
              if node.op == "gather" and node.inputs[1] == port.tensor]
    if tables:
        return rng.integers(0, min(tables), size=shape).astype(DTYPES[port.io_dtype])
    values = rng.integers(0, 2, size=shape).reshape(count, -1)
    values[:, 0] = 1
    return values.reshape(shape).astype(DTYPES[port.io_dtype])


def match_inputs(graph: Graph, arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Map user arrays onto the model inputs; float data for an integer input is quantized."""
    notes = []
    ports = split_boundary(graph).inputs
    if len(ports) == 1 and len(arrays) == 1 and ports[0].name not in arrays:
        arrays = {ports[0].name: next(iter(arrays.values()))}
    feeds = {}
    for port in ports:
        spec = {"name": port.name, "dtype": port.io_dtype, "shape": list(port.shape)}
        if port.value_range is not None:
            spec["range"] = list(port.value_range)
        array = arrays.get(port.name)
        quantized = port.quant is not None
        if array is not None and quantized and not port.is_float and np.issubdtype(
                array.dtype, np.floating):
            array = check_input(arrays, dict(spec, dtype="float32"))
            array = _quantize_like_tflite(array, port)
            notes.append(
                f"input '{port.name}': float data quantized with scale "
                f"{port.quant.scale[0]:g}, zero point {port.quant.zero_point[0]}"
            )
            arrays = dict(arrays, **{port.name: array})
        array = check_input(arrays, spec)
        feeds[port.name] = array.reshape((len(array), *port.shape))
    return feeds, notes


def _quantize_like_tflite(array: np.ndarray, port) -> np.ndarray:
    """float32 division by the scale, round half away from zero, add the zero point, saturate."""
    scale, zero_point = np.float32(port.quant.scale[0]), int(port.quant.zero_point[0])
    scaled = array.astype(np.float32) / scale
    whole = np.trunc(scaled)
    rounded = whole + (np.abs(scaled - whole) >= 0.5) * np.sign(scaled)
    info = np.iinfo(DTYPES[port.io_dtype])
    return np.clip(rounded + zero_point, info.min, info.max).astype(DTYPES[port.io_dtype])


def concat_feeds(first: dict | None, second: dict) -> dict:
    if not first:
        return second
    return {name: np.concatenate([first[name], second[name]]) for name in second}


def verify_model(
    model_path: Path,
    target_name: str,
    calibration: str | None = None,
    input_arrays: dict[str, np.ndarray] | None = None,
    random_count: int = 10,
    work_dir: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    config=None,
    kernels: str = "auto",
    cmsis_nn: str | None = None,
) -> VerifyResult:
    if random_count < 0:
        raise EdgecError(f"--random {random_count}: the number of random samples must be >= 0")
    if not input_arrays and random_count == 0:
        raise EdgecError("nothing to verify: give --input DATA.npz or --random N with N > 0")
    target = load_target(target_name)
    kernel_backend(target, kernels, cmsis_nn)
    graph = load_quantized(model_path, calibration, quiet=True, config=config)
    graph.name = model_path.stem
    feeds, notes = match_inputs(graph, input_arrays) if input_arrays else ({}, [])
    from_file = len(next(iter(feeds.values()))) if feeds else 0
    if random_count:
        feeds = concat_feeds(feeds, random_inputs(graph, random_count))
    count = len(next(iter(feeds.values())))
    result = VerifyResult(count, lines=list(notes))
    result.lines.append(f"{count} samples: {from_file} from --input, {random_count} random")

    with tempfile.TemporaryDirectory(prefix="edgec-verify-") as tmp:
        project = (work_dir or Path(tmp)) / "project"
        generate(graph, target, project, "model", model_path, kernels=kernels, cmsis_nn=cmsis_nn)
        result.target_outputs = run_project(project, feeds, timeout_s)

    reference = run_samples(graph, feeds)
    _compare(result, "reference interpreter", result.target_outputs, reference, graph)
    if model_path.suffix.lower() == ".tflite":
        from edgec.oracles import run_tflite_micro

        tflm = run_tflite_micro(model_path, [feeds[name] for name in graph.inputs])
        _compare(result, "TFLite Micro", result.target_outputs, dict(zip(graph.outputs, tflm)), graph)
    elif model_path.suffix.lower() == ".onnx":
        _onnx_agreement(result, model_path, feeds)
    return result


def _compare(result, label, target_out, expected, graph) -> None:
    for name in graph.outputs:
        got = np.asarray(target_out[name])
        want = np.asarray(expected[name]).reshape(got.shape).astype(got.dtype)
        if np.array_equal(got, want):
            result.lines.append(f"output '{name}': target == {label}, bit-exact on {len(got)} samples")
            continue
        differing = int(np.sum(np.any(got.reshape(len(got), -1) != want.reshape(len(want), -1), axis=1)))
        largest = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        result.mismatches.append(
            f"output '{name}': target differs from {label} in {differing} of {len(got)} samples "
            f"(largest difference {largest:g})"
        )


def _onnx_agreement(result, model_path, feeds) -> None:
    from edgec.metrics import agreement_line
    from edgec.oracles import run_onnxruntime

    float_out = run_onnxruntime(model_path, feeds)
    for name, want in float_out.items():
        got = result.target_outputs[name].astype(np.float64).reshape(want.shape)
        result.lines.append(
            f"output '{name}' vs onnxruntime on the .onnx file (informational, not a pass/fail "
            f"check): {agreement_line(got, want)}"
        )
