"""Calibration: load and validate sample inputs, then observe every float activation's range.

Pipeline position: between the graph passes and ``quantize_graph``. ``load_calibration``
turns an .npz file (one array per graph input, keyed by input name, samples stacked along a
leading axis) into validated feeds. ``collect_ranges`` runs the float reference interpreter
one sample at a time and feeds each float activation to an observer (see
``edgec.quantize.observers`` for the registry of methods and their options). A per-tensor
override (``method_for``) gives a tensor another method.

Invariants of the returned feeds: every graph input is present, every array has shape
``(N, *input_shape)`` with the same N >= 1, float inputs are float32 and finite, and integer
inputs keep an integer dtype.
"""

from __future__ import annotations

import os
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from edgec.errors import CalibrationError
from edgec.ir import DTYPES, Graph
from edgec.quantize.observers import Observer, make_observer
from edgec.quantize.padding import real_token_rows, token_mask_name
from edgec.reference.interpreter import run

RANDOM_SOURCE = "random"
RANDOM_SAMPLES = 8
# Float inputs of the "random" source are uniform in this range, the range of images
# normalised as (pixel - 128) / 128. Integer inputs (token ids, masks) get the value 1, which
# is a valid token id and an all-ones mask. Ranges from random data suit smoke tests only.
RANDOM_FLOAT_RANGE = (-1.0, 1.0)
RANDOM_INTEGER_VALUE = 1

# collect_ranges prints progress only for more samples than this.
PROGRESS_MIN_SAMPLES = 16
PROGRESS_STEPS = 10

CalibrationSource = str | os.PathLike | Mapping[str, np.ndarray]


def load_calibration(
    source: CalibrationSource, graph: Graph, seed: int = 0
) -> dict[str, np.ndarray]:
    """Load calibration samples for ``graph`` and return validated feeds.

    ``source`` is a path to an .npz file, a mapping of input name to array, or the string
    ``"random"``, which draws ``RANDOM_SAMPLES`` samples as ``RANDOM_FLOAT_RANGE`` describes
    from a generator seeded with ``seed``. Each array contains samples along its leading axis. A
    sample has the graph input's shape, or that shape without a leading batch dimension of 1.
    The result maps every graph input to an array of shape ``(N, *input_shape)``. Raises
    CalibrationError when the data is invalid, naming the input and what was expected.
    """
    if isinstance(source, str) and source == RANDOM_SOURCE:
        return random_calibration(graph, seed)
    if isinstance(source, Mapping):
        return validate_feeds(dict(source), graph, origin="calibration data")
    return validate_feeds(_read_npz(source), graph, origin=f"calibration file '{source}'")


def random_calibration(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Return ``RANDOM_SAMPLES`` random samples per graph input (smoke tests only)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in graph.inputs:
        tensor = graph.tensors[name]
        shape = (RANDOM_SAMPLES, *tensor.shape)
        if tensor.dtype == "float32":
            low, high = RANDOM_FLOAT_RANGE
            feeds[name] = rng.uniform(low, high, size=shape).astype(np.float32)
        else:
            feeds[name] = np.full(shape, RANDOM_INTEGER_VALUE, dtype=DTYPES[tensor.dtype])
    return feeds


def _read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Return every array of an .npz file, or raise CalibrationError if reading fails."""
    hint = "pass an .npz file with one array per model input, keyed by the input name"
    if not os.path.isfile(path):
        raise CalibrationError(f"calibration file '{path}' not found; {hint}")
    if not zipfile.is_zipfile(path):
        raise CalibrationError(f"calibration file '{path}' is not an .npz archive; {hint}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CalibrationError(f"calibration file '{path}' is not an .npz archive; {hint}")
        with archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CalibrationError(
            f"calibration file '{path}' cannot be read ({error}); {hint}"
        ) from error


def validate_feeds(
    arrays: dict[str, np.ndarray], graph: Graph, origin: str, kind: str = "calibration"
) -> dict[str, np.ndarray]:
    """Check ``arrays`` against the graph inputs and return them reshaped and cast.

    ``origin`` names the data in messages (for example the file path), and ``kind`` says
    what the data is for ("calibration", "eval"). Arrays whose key is not a graph input are
    ignored.
    """
    feeds = {}
    for name in graph.inputs:
        tensor = graph.tensors[name]
        if name not in arrays:
            raise CalibrationError(
                f"{origin} has no array for model input '{name}' (per-sample shape "
                f"{_accepted_shapes(tensor.shape)}, {tensor.dtype}); keys found: "
                f"{sorted(arrays)}; store the samples under the input's name"
            )
        feeds[name] = _validate_input(
            f"{kind} input '{name}'", np.asarray(arrays[name]), tensor.shape, tensor.dtype
        )
    _check_sample_counts(feeds, kind)
    return feeds


def _accepted_shapes(shape: tuple[int, ...]) -> str:
    if len(shape) > 0 and shape[0] == 1:
        return f"{shape} or {shape[1:]}"
    return str(shape)


def _validate_input(
    label: str, array: np.ndarray, shape: tuple[int, ...], dtype: str
) -> np.ndarray:
    """Validate one input's samples (``label`` names them, e.g. "calibration input 'x'")
    and return them as ``(N, *shape)`` in the graph dtype."""
    accepted = [shape] + ([shape[1:]] if len(shape) > 0 and shape[0] == 1 else [])
    if array.ndim == 0 or tuple(array.shape[1:]) not in accepted:
        got = "a scalar" if array.ndim == 0 else f"{tuple(array.shape[1:])}"
        raise CalibrationError(
            f"{label}: per-sample shape {got} (array shape "
            f"{tuple(array.shape)}) does not match the expected {_accepted_shapes(shape)}; "
            f"store the samples as an array of shape (N, {', '.join(map(str, shape))})"
        )
    if len(array) == 0:
        raise CalibrationError(
            f"{label} has 0 samples; provide at least one sample "
            "along the leading axis"
        )
    array = _cast_input(label, array, dtype)
    return array.reshape((len(array), *shape))


def _cast_input(label: str, array: np.ndarray, dtype: str) -> np.ndarray:
    """Cast samples to the input dtype, rejecting non-numeric data and NaN/Inf values."""
    kind = array.dtype.kind
    if dtype == "float32":
        if kind not in "fiub":
            raise CalibrationError(
                f"{label} has dtype {array.dtype}; expected numbers "
                "convertible to float32"
            )
        array = array.astype(np.float32)
        finite = np.isfinite(array)
        if not finite.all():
            nan_count = int(np.isnan(array).sum())
            inf_count = int(array.size - finite.sum()) - nan_count
            raise CalibrationError(
                f"{label} contains {nan_count} NaN and {inf_count} Inf "
                "values; remove or replace those samples"
            )
        return array
    if kind not in "iub":
        raise CalibrationError(
            f"{label} has dtype {array.dtype}; expected integers ({dtype})"
        )
    return array.astype(DTYPES[dtype])


def _check_sample_counts(feeds: dict[str, np.ndarray], kind: str = "calibration") -> None:
    counts = {name: len(array) for name, array in feeds.items()}
    if len(set(counts.values())) > 1:
        raise CalibrationError(
            f"{kind} inputs have different sample counts {counts}; every input needs "
            "the same number of samples"
        )


def collect_ranges(
    graph: Graph,
    feeds: dict[str, np.ndarray],
    method: str = "minmax",
    quiet: bool = False,
    options: Mapping[str, Any] | None = None,
    method_for: Mapping[str, tuple[str, Mapping[str, Any] | None]] | None = None,
) -> dict[str, tuple[float, float]]:
    """Return the calibrated ``(min, max)`` of every non-constant float32 tensor of ``graph``.

    ``feeds`` maps each graph input to its samples (as ``load_calibration`` returns them).
    The float reference interpreter runs one sample at a time, so memory holds one sample's
    activations. ``method`` names an observer in ``OBSERVERS`` and ``options`` are its keyword
    options. ``method_for`` maps a tensor name to its own ``(method, options)``, overriding
    the default for that tensor. Entries for graph tensors that are not observed (integer or
    constant tensors) are ignored. For more than ``PROGRESS_MIN_SAMPLES`` samples, progress
    goes to stderr unless ``quiet`` is true. Raises CalibrationError for an unknown method,
    option or tensor name, a bad option value, missing feeds, or a NaN/Inf activation, and
    checks the methods and options before running any sample.
    """
    observers = _make_observers(graph, method, options, method_for)
    count = _sample_count(graph, feeds)
    report = _progress_reporter(count, quiet)
    for index in range(count):
        sample = {name: feeds[name][index] for name in graph.inputs}
        values = run(graph, sample, keep_all=True)
        _update_observers(graph, observers, values, index)
        report(index + 1)
    return {name: observer.range() for name, observer in observers.items()}


def _make_observers(
    graph: Graph,
    method: str,
    options: Mapping[str, Any] | None,
    method_for: Mapping[str, tuple[str, Mapping[str, Any] | None]] | None,
) -> dict[str, Observer]:
    """Create the observer of every observed tensor, checking ``method_for`` first."""
    make_observer(method, options)  # checks the default even if method_for covers every tensor
    method_for = dict(method_for or {})
    unknown = sorted(name for name in method_for if name not in graph.tensors)
    if unknown:
        raise CalibrationError(
            f"method_for names tensors {unknown} that are not in the graph; use the names of "
            "graph inputs or node outputs"
        )
    observers = {}
    for name in _observed_tensors(graph):
        if name not in method_for:
            observers[name] = make_observer(method, options)
            continue
        entry = method_for[name]
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise CalibrationError(
                f"method_for['{name}'] is {entry!r}; expected a (method, options) tuple"
            )
        try:
            observers[name] = make_observer(*entry)
        except CalibrationError as error:
            raise CalibrationError(f"method_for['{name}']: {error}") from error
    return observers


def _observed_tensors(graph: Graph) -> list[str]:
    """Graph inputs and node outputs that are float32 and not constant, in graph order."""
    names = list(graph.inputs)
    names += [output for node in graph.nodes for output in node.outputs]
    names = list(dict.fromkeys(names))
    return [
        name
        for name in names
        if graph.tensors[name].dtype == "float32" and not graph.tensors[name].is_constant
    ]


def _sample_count(graph: Graph, feeds: dict[str, np.ndarray]) -> int:
    """Return the number of samples in ``feeds``; a graph without inputs runs once."""
    missing = [name for name in graph.inputs if name not in feeds]
    if missing:
        raise CalibrationError(
            f"calibration feeds have no samples for model inputs {missing}; "
            "load them with load_calibration"
        )
    if not graph.inputs:
        return 1
    inputs = {name: feeds[name] for name in graph.inputs}
    _check_sample_counts(inputs)
    count = len(inputs[graph.inputs[0]])
    if count == 0:
        raise CalibrationError("calibration feeds have 0 samples; provide at least one sample")
    return count


def _update_observers(
    graph: Graph, observers: dict[str, Observer], values: dict[str, np.ndarray], index: int
) -> None:
    mask_name = token_mask_name(graph)
    for name, observer in observers.items():
        array = real_token_rows(np.asarray(values[name]), values, mask_name)
        if not np.isfinite(array).all():
            producer = graph.producer(name)
            where = f"output of node '{producer.name}'" if producer else "graph input"
            raise CalibrationError(
                f"tensor '{name}' ({where}) has NaN or Inf values on calibration sample "
                f"{index}; check that sample and the model's float weights"
            )
        observer.update(array)


def _progress_reporter(count: int, quiet: bool) -> Callable[[int], None]:
    """Return a callback that prints progress to stderr about every 10% of ``count``."""
    if quiet or count <= PROGRESS_MIN_SAMPLES:
        return lambda done: None
    step = -(-count // PROGRESS_STEPS)
    start = time.monotonic()

    def report(done: int) -> None:
        if done % step == 0 or done == count:
            elapsed = time.monotonic() - start
            print(
                f"calibration: {done}/{count} samples ({100 * done // count}%), {elapsed:.1f} s",
                file=sys.stderr,
            )

    return report
