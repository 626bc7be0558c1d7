"""The int16 add against TFLite Micro's interpreter (PyPI tflite-micro), bit for bit.

Each generated TFLite model has two int16 inputs of one shape and one ADD with an int16
output, all with zero point 0. TFLite Micro computes it with its general int16 path (left
shift 15). The TFLite frontend loads the same file, and both edgec's reference interpreter
and the C kernel edgec_add_s16 (built for the host) must give TFLite Micro's outputs.

TFLite Micro has no fully connected layer with an int8 input and an int16 output (it
requires equal input and output types), so the fully_connected_s8_s16 kernels have no
oracle here. Their tests compare them with the reference interpreter and with float
(test_residual_error_bounds.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.BuiltinOperator import BuiltinOperator as B
from tflite.TensorType import TensorType

from edgec.frontend.tflite import load_tflite
from edgec.reference.interpreter import run_samples
from edgec.targets import load_target
from tests.kernels.bench import describe_mismatches, run_program
from tests.kernels.residual_graphs import residual_case
from tests.tflite_builder import Op, T, write_model

SAMPLES = 6
# TFLite Micro's default arena is 10 times the model file, too small for these models
# without weights.
ARENA_BYTES = 1 << 20
# (shape, input1 scale, input2 scale, output scale, fused activation)
ADD_MODELS = {
    "MiniLM residual (32, 384)": ((32, 384), 3e-4, 5e-4, 8e-4, Act.NONE),
    "equal scales, ties at halves": ((7,), 1e-3, 1e-3, 2e-3, Act.NONE),
    "second input 10000 times finer": ((1, 2, 3, 5), 1e-2, 1e-6, 1e-2, Act.NONE),
    "first input finer, ReLU": ((50,), 3e-5, 8e-4, 1e-3, Act.RELU),
    "RELU6 at output scale 2e-4": ((3, 17), 1e-4, 2e-4, 2e-4, Act.RELU6),
    "smallest output scale": ((64,), 1e-2, 4e-3, 1e-2 / 2**14 * 1.01, Act.NONE),
}


def add_model(tmp_path, shape, scale1: float, scale2: float, output_scale: float, activation):
    tensors = [
        T("a", shape, TensorType.INT16, None, [scale1], [0]),
        T("b", shape, TensorType.INT16, None, [scale2], [0]),
        T("y", shape, TensorType.INT16, None, [output_scale], [0]),
    ]
    options = ("AddOptions", {"fused_activation_function": activation})
    return write_model(tmp_path, tensors, [Op(B.ADD, ["a", "b"], ["y"], options)], ["a", "b"],
                       ["y"])


def run_tflite_micro(model, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """TFLite Micro's outputs of ``model`` for each sample of the two inputs."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(model), arena_size=ARENA_BYTES)
    outputs = []
    for sample in range(len(first)):
        interpreter.set_input(first[sample], 0)
        interpreter.set_input(second[sample], 1)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return np.stack(outputs)


def add_inputs(rng: np.random.Generator, shape) -> np.ndarray:
    """SAMPLES random int16 inputs; the first sample contains the int16 limits."""
    values = rng.integers(-32768, 32768, size=(SAMPLES, *shape))
    values.reshape(SAMPLES, -1)[0, :4] = [-32768, 32767, -32768, 32767][: values[0].size]
    return values.astype(np.int16)


@pytest.fixture(scope="module")
def add_runs(tmp_path_factory):
    """For each model: its graph, the two inputs and TFLite Micro's outputs."""
    pytest.importorskip("tflite_micro")
    rng = np.random.default_rng(4101)
    runs = {}
    for name, (shape, scale1, scale2, output_scale, activation) in ADD_MODELS.items():
        folder = tmp_path_factory.mktemp("add")
        model = add_model(folder, shape, scale1, scale2, output_scale, activation)
        first, second = add_inputs(rng, shape), add_inputs(rng, shape)
        expected = run_tflite_micro(model, first, second)
        runs[name] = (load_tflite(model), first, second, expected)
    return runs


@pytest.mark.parametrize("name", sorted(ADD_MODELS))
def test_int16_add_interpreter_equals_tflite_micro(add_runs, name):
    graph, first, second, expected = add_runs[name]

    outputs = run_samples(graph, {"a": first, "b": second})["y"]

    assert outputs.dtype == np.int16
    np.testing.assert_array_equal(outputs.reshape(expected.shape), expected)


def test_int16_add_models_cover_saturation_and_activations(add_runs):
    saturated = sum(int(np.sum(np.abs(run[3].astype(np.int64)) >= 32767))
                    for run in add_runs.values())
    clamped_at_zero = np.sum(add_runs["first input finer, ReLU"][3] == 0)

    assert saturated > 10
    assert clamped_at_zero > 10


def test_int16_add_c_kernel_equals_tflite_micro(add_runs, tmp_path):
    cases = []
    for name, (graph, first, second, expected) in sorted(add_runs.items()):
        for sample in range(SAMPLES):
            feeds = {"a": first[sample], "b": second[sample]}
            case = residual_case(f"{name}, sample {sample}", graph, feeds)
            case.expected = np.ascontiguousarray(expected[sample], dtype=np.int16).tobytes()
            cases.append(case)

    run = run_program(tmp_path / "add_s16", load_target("host"), "add_s16", cases, ["add_s16.c"])

    assert run.error is None, run.error
    assert describe_mismatches(cases, run.results) == []
