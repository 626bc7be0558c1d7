"""Running a generated project on its target: ``edgec run`` and the target side of verify.

Samples are passed to the harness through ``input.bin`` (each sample's inputs concatenated
in the model's I/O dtypes) and come back in ``output.bin``; the project folder's
``edgec.json`` says which target, ports, shapes and dtypes to use.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from edgec import emulator, toolchain
from edgec.errors import CalibrationError, EdgecError
from edgec.ir import DTYPES
from edgec.targets import load_target

METADATA_FILE = "edgec.json"


def read_metadata(project_dir: Path) -> dict:
    path = project_dir / METADATA_FILE
    if not path.is_file():
        raise EdgecError(
            f"{project_dir} is not an edgec output folder ({METADATA_FILE} not found): "
            "generate it with `edgec compile MODEL --target NAME --output DIR`"
        )
    return json.loads(path.read_text())


def load_input_file(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: cannot read the input .npz file ({exc})") from exc


def pack_inputs(arrays: dict[str, np.ndarray], ports: list[dict]) -> tuple[bytes, int]:
    """Validate ``arrays`` against the model's input ports; return input.bin bytes and count."""
    if len(ports) == 1 and len(arrays) == 1 and ports[0]["name"] not in arrays:
        arrays = {ports[0]["name"]: next(iter(arrays.values()))}
    samples = []
    for port in ports:
        samples.append(_check_input(arrays, port))
    counts = {len(s) for s in samples}
    if len(counts) != 1:
        raise CalibrationError(f"inputs have different sample counts: {sorted(counts)}")
    count = counts.pop()
    flat = [s.reshape(count, -1).view(np.uint8) for s in samples]
    return np.concatenate(flat, axis=1).tobytes(), count


def _check_input(arrays: dict[str, np.ndarray], port: dict) -> np.ndarray:
    name, shape, dtype = port["name"], tuple(port["shape"]), port["dtype"]
    if name not in arrays:
        raise CalibrationError(
            f"input '{name}' is missing from the input file (found: {', '.join(sorted(arrays))}); "
            f"add an array '{name}' of shape [N, {', '.join(map(str, shape))}]"
        )
    array = np.asarray(arrays[name])
    per_sample = array.shape[1:]
    accepted = [shape] + ([shape[1:]] if shape and shape[0] == 1 else [])
    if per_sample not in accepted:
        raise CalibrationError(
            f"input '{name}' has samples of shape {list(per_sample)}, expected "
            f"{list(shape)} (array shape [N, {', '.join(map(str, shape))}])"
        )
    if dtype == "float32":
        if not np.issubdtype(array.dtype, np.floating):
            raise CalibrationError(f"input '{name}' must be float32, got {array.dtype}")
        return np.ascontiguousarray(array, dtype=np.float32)
    if not np.issubdtype(array.dtype, np.integer):
        raise CalibrationError(
            f"input '{name}' must be {dtype} (the model's quantized I/O type), got "
            f"{array.dtype}: quantize it with the input scale and zero point first"
        )
    info = np.iinfo(DTYPES[dtype])
    if array.size and (array.min() < info.min or array.max() > info.max):
        raise CalibrationError(f"input '{name}' has values outside the {dtype} range")
    return np.ascontiguousarray(array, dtype=DTYPES[dtype])


def unpack_outputs(data: bytes, ports: list[dict], count: int) -> dict[str, np.ndarray]:
    sizes = [int(np.prod(p["shape"])) * np.dtype(DTYPES[p["dtype"]]).itemsize for p in ports]
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != count * sum(sizes):
        raise EdgecError(
            f"output.bin has {raw.size} bytes, expected {count} samples of {sum(sizes)} bytes"
        )
    rows = raw.reshape(count, sum(sizes))
    outputs, start = {}, 0
    for port, size in zip(ports, sizes):
        chunk = np.ascontiguousarray(rows[:, start : start + size])
        values = chunk.view(DTYPES[port["dtype"]]).reshape((count, *port["shape"]))
        outputs[port["name"]] = values
        start += size
    return outputs


def run_project(project_dir: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Build ``project_dir`` for its target, run every sample, and return the outputs."""
    metadata = read_metadata(project_dir)
    target = load_target(metadata["target"])
    toolchain.check_toolchain(target)
    data, count = pack_inputs(arrays, metadata["inputs"])
    binary = toolchain.build(project_dir, target)
    with tempfile.TemporaryDirectory(prefix="edgec-run-") as workdir:
        work = Path(workdir)
        (work / "input.bin").write_bytes(data)
        emulator.run_binary(target, binary.resolve(), work)
        return unpack_outputs((work / "output.bin").read_bytes(), metadata["outputs"], count)
