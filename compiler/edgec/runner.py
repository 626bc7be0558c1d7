"""Running a generated project on its target: ``edgec run`` and the target side of verify.

Samples are passed to the harness through ``input.bin`` (each sample's inputs concatenated
in the model's I/O dtypes) and come back in ``output.bin``. The project folder's
``edgec.json`` records the target and the ports' names, shapes and dtypes.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from edgec import emulator, toolchain
from edgec.errors import CalibrationError, EdgecError
from edgec.ir import DTYPES
from edgec.targets import load_target

METADATA_FILE = "edgec.json"
# Time limit of one run of the harness, all samples included.
DEFAULT_TIMEOUT_S = 600.0


def read_metadata(project_dir: Path) -> dict:
    path = project_dir / METADATA_FILE
    if not path.is_file():
        raise EdgecError(
            f"{project_dir} is not an edgec output folder ({METADATA_FILE} not found): "
            "generate it with `edgec compile MODEL --target NAME --output DIR`"
        )
    try:
        metadata = json.loads(path.read_text())
        for key in ("target", "inputs", "outputs"):
            metadata[key]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EdgecError(
            f"{path} is damaged ({error}): compile the model again with `edgec compile`"
        ) from error
    return metadata


def load_input_file(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an input .npz file; raise CalibrationError naming the problem."""
    if not path.is_file():
        raise CalibrationError(f"input file {path} not found")
    if not zipfile.is_zipfile(path):
        raise CalibrationError(
            f"input file {path} is not an .npz archive: save the inputs with numpy.savez"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CalibrationError(f"input file {path} cannot be read ({exc})") from exc


def save_output_file(path: Path, outputs: dict[str, np.ndarray]) -> None:
    """Write ``outputs`` to exactly ``path`` (numpy.savez would append .npz to other names)."""
    try:
        with open(path, "wb") as file:
            np.savez(file, **outputs)
    except OSError as error:
        raise EdgecError(f"cannot write --output {path}: {error.strerror or error}") from error


def check_output_path(path: Path) -> None:
    """Fail before a long run when the output file cannot be created."""
    if path.is_dir():
        raise EdgecError(f"--output {path} is a folder: give a file name such as out.npz")
    if not path.parent.is_dir():
        raise EdgecError(f"--output {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise EdgecError(f"--output {path}: folder {path.parent} is not writable")


def pack_inputs(arrays: dict[str, np.ndarray], ports: list[dict]) -> tuple[bytes, int]:
    """Validate ``arrays`` against the model's input ports; return input.bin bytes and count."""
    if len(ports) == 1 and len(arrays) == 1 and ports[0]["name"] not in arrays:
        arrays = {ports[0]["name"]: next(iter(arrays.values()))}
    samples = []
    for port in ports:
        samples.append(check_input(arrays, port))
    counts = {len(s) for s in samples}
    if len(counts) != 1:
        raise CalibrationError(f"inputs have different sample counts: {sorted(counts)}")
    count = counts.pop()
    if count == 0:
        raise CalibrationError("the input file has no samples (the first axis has length 0)")
    flat = [s.reshape(count, -1).view(np.uint8) for s in samples]
    return np.concatenate(flat, axis=1).tobytes(), count


def check_input(arrays: dict[str, np.ndarray], port: dict) -> np.ndarray:
    """Validate one input array against its port; return it in the port's I/O dtype."""
    name, shape, dtype = port["name"], tuple(port["shape"]), port["dtype"]
    if name not in arrays:
        raise CalibrationError(
            f"input '{name}' is missing from the input file (found: {', '.join(sorted(arrays))}); "
            f"add an array '{name}' of shape [N, {', '.join(map(str, shape))}]"
        )
    array = np.asarray(arrays[name])
    _check_sample_shape(name, array, shape)
    array = _convert_dtype(name, array, dtype)
    if "range" in port and array.size:
        low, high = port["range"]
        if array.min() < low or array.max() > high:
            raise CalibrationError(
                f"input '{name}' has values from {array.min()} to {array.max()}, outside "
                f"[{low}, {high}], the rows of the embedding table it indexes; pass token ids "
                "of this model's vocabulary"
            )
    return array


def _check_sample_shape(name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    accepted = [shape] + ([shape[1:]] if shape and shape[0] == 1 else [])
    if array.shape[1:] not in accepted:
        expected = " or ".join(f"[N, {', '.join(map(str, a))}]" for a in accepted)
        raise CalibrationError(
            f"input '{name}' has shape {list(array.shape)}, expected {expected} "
            "(samples on the first axis)"
        )


def _convert_dtype(name: str, array: np.ndarray, dtype: str) -> np.ndarray:
    """Return ``array`` in the port's dtype; reject non-finite floats and out-of-range ints."""
    if dtype == "float32":
        if not np.issubdtype(array.dtype, np.floating):
            raise CalibrationError(f"input '{name}' must be float32, got {array.dtype}")
        with np.errstate(over="ignore"):
            array = np.ascontiguousarray(array, dtype=np.float32)
        invalid = int(np.count_nonzero(~np.isfinite(array)))
        if invalid:
            raise CalibrationError(
                f"input '{name}' contains {invalid} NaN or infinite values (in float32); "
                "replace them"
            )
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise CalibrationError(
            f"input '{name}' must be {dtype} (the model's integer I/O type), got "
            f"{array.dtype}: pass token ids and masks as integers, and quantize other float "
            "data with the input scale and zero point first"
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
        shape = port["shape"]
        # The samples replace a batch dimension of 1, as in the input files: [1, 10] -> [N, 10].
        per_sample = shape[1:] if shape and shape[0] == 1 else shape
        values = chunk.view(DTYPES[port["dtype"]]).reshape((count, *per_sample))
        outputs[port["name"]] = values
        start += size
    return outputs


def run_project(
    project_dir: Path, arrays: dict[str, np.ndarray], timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, np.ndarray]:
    """Build ``project_dir`` for its target, run every sample, and return the outputs.

    Each output has the samples on its first axis in place of a batch dimension of 1.
    """
    metadata = read_metadata(project_dir)
    target = load_target(metadata["target"])
    toolchain.check_toolchain(target)
    data, count = pack_inputs(arrays, metadata["inputs"])
    binary = toolchain.build(project_dir, target)
    with tempfile.TemporaryDirectory(prefix="edgec-run-") as workdir:
        work = Path(workdir)
        (work / "input.bin").write_bytes(data)
        emulator.run_binary(target, binary.resolve(), work, timeout_s)
        return unpack_outputs((work / "output.bin").read_bytes(), metadata["outputs"], count)
