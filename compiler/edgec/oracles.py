"""External oracles for ``edgec verify`` and the tests: TFLite Micro and onnxruntime.

TFLite Micro's own interpreter (PyPI ``tflite-micro``) defines the expected bits of an int8
TFLite model; onnxruntime defines the float outputs of an ONNX model.
"""

from __future__ import annotations

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


def _output_count(model_path: Path) -> int:
    import tflite

    model = tflite.Model.GetRootAsModel(Path(model_path).read_bytes(), 0)
    return model.Subgraphs(0).OutputsLength()


def run_onnxruntime(model_path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run samples (leading sample axis) one at a time through onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    count = len(next(iter(feeds.values())))
    shapes = {i.name: i.shape for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    collected: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i in range(count):
        sample = {}
        for name, array in feeds.items():
            shape = [d if isinstance(d, int) else 1 for d in shapes[name]]
            sample[name] = array[i].reshape(shape)
        for name, value in zip(names, session.run(names, sample)):
            collected[name].append(value)
    return {name: np.stack(values) for name, values in collected.items()}
