"""External oracles for ``edgec verify`` and the tests: TFLite Micro and onnxruntime.

TFLite Micro's own interpreter (PyPI ``tflite-micro``) defines the expected bits of an int8
TFLite model; onnxruntime defines the float outputs of an ONNX model.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgec.errors import ToolchainError


def run_tflite_micro(model_path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run every sample (one array per model input, in order) through TFLite Micro.

    ``inputs[k]`` has a leading sample axis. Returns one stacked array per model output.
    """
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise ToolchainError(
            "TFLite Micro's Python interpreter is not installed: pip install tflite-micro"
        ) from exc
    interpreter = runtime.Interpreter.from_file(str(model_path))
    output_count = _output_count(model_path)
    count = len(inputs[0])
    outputs: list[list[np.ndarray]] = []
    for i in range(count):
        for index, array in enumerate(inputs):
            detail = interpreter.get_input_details(index)
            interpreter.set_input(array[i].reshape(detail["shape"]).astype(detail["dtype"]), index)
        interpreter.invoke()
        outputs.append([np.array(interpreter.get_output(k)) for k in range(output_count)])
    return [np.stack([sample[k] for sample in outputs]) for k in range(output_count)]


def tflite_micro_arena_bytes(model_path: Path) -> dict[str, int]:
    """TFLite Micro's arena use for a model: ``total`` (its arena_used_bytes), ``head``, ``tail``.

    The head contains the tensors its planner places, and the tail the interpreter's own
    structures. The Python package does not expose arena_used_bytes(), so this reads the
    allocation summary that print_allocations() writes to the process's standard error.
    The figures come from a 64-bit host build, whose structures are larger than on a
    32-bit microcontroller.
    """
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(model_path))
    text = _native_stderr(interpreter.print_allocations)
    figures = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text))
    if set(figures) != {"total", "head", "tail"}:
        raise RuntimeError(f"TFLite Micro printed no arena summary for {model_path}: {text[:200]}")
    return {key: int(value) for key, value in figures.items()}


def _native_stderr(function) -> str:
    """Call ``function`` and return what native code wrote to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            function()
            # Flush the C library's buffers while the descriptor still points at the file.
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode(errors="replace")


def _output_count(model_path: Path) -> int:
    import tflite

    model = tflite.Model.GetRootAsModel(Path(model_path).read_bytes(), 0)
    return model.Subgraphs(0).OutputsLength()


ORT_INTEGER_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def run_onnxruntime(model_path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run samples (leading sample axis) one at a time through onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    count = len(next(iter(feeds.values())))
    shapes = {i.name: i.shape for i in session.get_inputs()}
    # Integer inputs (token ids, masks) arrive as edgec's int32 and go in the model's type.
    types = {i.name: ORT_INTEGER_TYPES.get(i.type) for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    collected: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i in range(count):
        sample = {}
        for name, array in feeds.items():
            shape = [d if isinstance(d, int) else 1 for d in shapes[name]]
            value = array[i].reshape(shape)
            sample[name] = value.astype(types[name]) if types[name] is not None else value
        for name, value in zip(names, session.run(names, sample)):
            collected[name].append(value)
    return {name: np.stack(values) for name, values in collected.items()}
