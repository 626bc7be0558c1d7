"""Tests of edgec.quantize.calibration: loading and validating samples, observing ranges."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import CalibrationError
from edgec.ir import Graph, Node, Tensor
from edgec.quantize import OBSERVERS, Observer, collect_ranges, load_calibration, quantize_model
from edgec.quantize.calibration import RANDOM_FLOAT_RANGE, RANDOM_SAMPLES
from edgec.quantize.observers import register_observer

OFFSETS = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)


def image_graph() -> Graph:
    """Inputs x float32 (1, 4, 4, 3) and ids int64 (1, 8); x is reshaped to the output."""
    graph = Graph(inputs=["x", "ids"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4, 4, 3), "float32"))
    graph.add_tensor(Tensor("ids", (1, 8), "int64"))
    graph.add_tensor(Tensor("y", (1, 48), "float32"))
    graph.nodes.append(Node("reshape", "flatten", ["x"], ["y"]))
    graph.check()
    return graph


def vector_graph(offsets: np.ndarray = OFFSETS) -> Graph:
    """x (1, 4) + offsets -> a, relu(a) -> r, reshape(r) -> y (4,)."""
    graph = Graph(inputs=["x"], outputs=["y"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    graph.add_tensor(Tensor("offsets", (4,), "float32", offsets))
    graph.add_tensor(Tensor("a", (1, 4), "float32"))
    graph.add_tensor(Tensor("r", (1, 4), "float32"))
    graph.add_tensor(Tensor("y", (4,), "float32"))
    graph.nodes.append(Node("add", "shift", ["x", "offsets"], ["a"]))
    graph.nodes.append(Node("clip", "relu", ["a"], ["r"], {"activation": (0.0, float("inf"))}))
    graph.nodes.append(Node("reshape", "flatten", ["r"], ["y"]))
    graph.check()
    return graph


def image_samples(count: int = 5, batch_dim: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x_shape = (count, 1, 4, 4, 3) if batch_dim else (count, 4, 4, 3)
    return {
        "x": rng.uniform(-2.0, 2.0, size=x_shape).astype(np.float32),
        "ids": rng.integers(0, 100, size=(count, 1, 8)),
    }


def save(tmp_path, arrays: dict[str, np.ndarray]) -> str:
    path = tmp_path / "calib.npz"
    np.savez(path, **arrays)
    return str(path)


# --- load_calibration: accepted data ---------------------------------------------------


@pytest.mark.parametrize("batch_dim", [True, False])
def test_load_npz_sample_shapes(tmp_path, batch_dim):
    arrays = image_samples(batch_dim=batch_dim)
    feeds = load_calibration(save(tmp_path, arrays), image_graph())
    assert feeds["x"].shape == (5, 1, 4, 4, 3)
    assert feeds["x"].dtype == np.float32
    assert feeds["ids"].shape == (5, 1, 8)
    np.testing.assert_array_equal(feeds["x"].reshape(5, -1), arrays["x"].reshape(5, -1))


def test_load_casts_to_input_dtypes(tmp_path):
    arrays = image_samples()
    arrays["x"] = np.arange(5 * 48, dtype=np.uint8).reshape(5, 4, 4, 3)
    arrays["ids"] = arrays["ids"].astype(np.int32)
    feeds = load_calibration(save(tmp_path, arrays), image_graph())
    assert feeds["x"].dtype == np.float32
    assert feeds["ids"].dtype == np.int64
    assert float(feeds["x"].max()) == 239.0


def test_load_ignores_extra_keys(tmp_path):
    arrays = dict(image_samples(), labels=np.zeros(5))
    feeds = load_calibration(save(tmp_path, arrays), image_graph())
    assert sorted(feeds) == ["ids", "x"]


def test_load_mapping_source_is_validated():
    feeds = load_calibration(image_samples(batch_dim=False), image_graph())
    assert feeds["x"].shape == (5, 1, 4, 4, 3)
    with pytest.raises(CalibrationError, match="model input 'ids'"):
        load_calibration({"x": image_samples()["x"]}, image_graph())


def test_load_random_source():
    graph = image_graph()
    feeds = load_calibration("random", graph, seed=3)
    assert feeds["x"].shape == (RANDOM_SAMPLES, 1, 4, 4, 3)
    assert feeds["x"].dtype == np.float32
    low, high = RANDOM_FLOAT_RANGE
    assert feeds["x"].min() >= low
    assert feeds["x"].max() <= high
    assert feeds["ids"].dtype == np.int64
    assert np.all(feeds["ids"] == 1)
    np.testing.assert_array_equal(load_calibration("random", graph, seed=3)["x"], feeds["x"])
    assert not np.array_equal(load_calibration("random", graph, seed=4)["x"], feeds["x"])


# --- load_calibration: errors ----------------------------------------------------------


def test_load_missing_file(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(CalibrationError, match=f"'{path}' not found; pass an .npz file"):
        load_calibration(str(path), image_graph())


def test_load_unreadable_file(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(CalibrationError, match="broken.npz' is not an .npz archive"):
        load_calibration(str(path), image_graph())


def test_load_text_file_rejected(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("calibration notes\n")
    with pytest.raises(CalibrationError, match="notes.txt' is not an .npz archive"):
        load_calibration(str(path), image_graph())


def test_load_npy_file_rejected(tmp_path):
    path = tmp_path / "samples.npy"
    np.save(path, np.zeros((5, 1, 4, 4, 3), dtype=np.float32))
    with pytest.raises(CalibrationError, match="samples.npy' is not an .npz archive"):
        load_calibration(str(path), image_graph())


def test_load_missing_input_names_expected_shape(tmp_path):
    arrays = {"images": image_samples()["x"], "ids": image_samples()["ids"]}
    with pytest.raises(CalibrationError) as error:
        load_calibration(save(tmp_path, arrays), image_graph())
    message = str(error.value)
    assert "no array for model input 'x'" in message
    assert "(1, 4, 4, 3) or (4, 4, 3)" in message
    assert "float32" in message
    assert "keys found: ['ids', 'images']" in message


def test_load_wrong_sample_shape(tmp_path):
    arrays = dict(image_samples(), x=np.zeros((5, 4, 4), dtype=np.float32))
    with pytest.raises(CalibrationError) as error:
        load_calibration(save(tmp_path, arrays), image_graph())
    message = str(error.value)
    assert "calibration input 'x'" in message
    assert "per-sample shape (4, 4)" in message
    assert "expected (1, 4, 4, 3) or (4, 4, 3)" in message


def test_load_scalar_array_rejected():
    with pytest.raises(CalibrationError, match="input 'x': per-sample shape a scalar"):
        load_calibration(dict(image_samples(), x=np.float32(1.0)), image_graph())


def test_load_nan_and_inf_counted(tmp_path):
    arrays = image_samples()
    arrays["x"][0, 0, 0, 0, 0] = np.nan
    arrays["x"][3, 0, 1, 2, 0] = np.nan
    arrays["x"][4, 0, 3, 3, 2] = -np.inf
    with pytest.raises(CalibrationError, match="input 'x' contains 2 NaN and 1 Inf values"):
        load_calibration(save(tmp_path, arrays), image_graph())


def test_load_zero_samples(tmp_path):
    arrays = image_samples(count=0)
    with pytest.raises(CalibrationError, match="input 'x' has 0 samples"):
        load_calibration(save(tmp_path, arrays), image_graph())


def test_load_different_sample_counts(tmp_path):
    arrays = dict(image_samples(), ids=image_samples(count=4)["ids"])
    with pytest.raises(CalibrationError, match="different sample counts"):
        load_calibration(save(tmp_path, arrays), image_graph())


def test_load_float_data_for_integer_input_rejected(tmp_path):
    arrays = dict(image_samples(), ids=np.zeros((5, 1, 8), dtype=np.float32))
    with pytest.raises(CalibrationError, match="input 'ids' has dtype float32; expected integers"):
        load_calibration(save(tmp_path, arrays), image_graph())


# --- collect_ranges --------------------------------------------------------------------


def vector_samples(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(-3.0, 3.0, size=(count, 1, 4)).astype(np.float32)}


def test_collect_ranges_min_max_over_samples():
    feeds = vector_samples(12)
    ranges = collect_ranges(vector_graph(), feeds)
    x = feeds["x"]
    shifted = x + OFFSETS
    relu = np.maximum(shifted, 0.0)
    assert sorted(ranges) == ["a", "r", "x", "y"]
    assert ranges["x"] == (float(x.min()), float(x.max()))
    assert ranges["a"] == (float(shifted.min()), float(shifted.max()))
    assert ranges["r"] == (float(relu.min()), float(relu.max()))
    assert ranges["y"] == ranges["r"]
    assert all(isinstance(bound, float) for pair in ranges.values() for bound in pair)


def test_collect_ranges_progress_on_stderr(capsys):
    collect_ranges(vector_graph(), vector_samples(40))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("calibration: 4/40 samples (10%)")
    assert lines[-1].startswith("calibration: 40/40 samples (100%)")


def test_collect_ranges_quiet(capsys):
    collect_ranges(vector_graph(), vector_samples(40), quiet=True)
    collect_ranges(vector_graph(), vector_samples(8))
    assert capsys.readouterr().err == ""


def test_collect_ranges_non_finite_activation():
    graph = vector_graph(np.array([0.0, np.inf, 0.0, 0.0], dtype=np.float32))
    with pytest.raises(
        CalibrationError, match="tensor 'a' \\(output of node 'shift'\\) has NaN or Inf"
    ):
        collect_ranges(graph, vector_samples(3))


def test_collect_ranges_unknown_method():
    with pytest.raises(CalibrationError, match="unknown calibration method 'kl'"):
        collect_ranges(vector_graph(), vector_samples(3), method="kl")


def test_collect_ranges_missing_feed():
    with pytest.raises(CalibrationError, match="no samples for model inputs \\['x'\\]"):
        collect_ranges(vector_graph(), {"z": np.zeros((3, 1, 4), dtype=np.float32)})


def test_collect_ranges_registered_observer():
    @register_observer("test_absmax")
    class AbsMaxObserver(Observer):
        def __init__(self) -> None:
            self.bound = 0.0

        def update(self, values: np.ndarray) -> None:
            self.bound = max(self.bound, float(np.abs(values).max()))

        def range(self) -> tuple[float, float]:
            return -self.bound, self.bound

    try:
        feeds = vector_samples(6)
        ranges = collect_ranges(vector_graph(), feeds, method="test_absmax")
        bound = float(np.abs(feeds["x"]).max())
        assert ranges["x"] == (-bound, bound)
    finally:
        OBSERVERS.pop("test_absmax")


def test_quantize_model_from_npz(tmp_path):
    path = save(tmp_path, vector_samples(6))
    quantized = quantize_model(vector_graph(), path)
    quantized.check()
    assert quantized.tensors["offsets"].dtype == "int8"
    float_tensors = {n for n, t in quantized.tensors.items() if t.dtype == "float32"}
    assert float_tensors == {"x", "y"}


# --- real models -----------------------------------------------------------------------


def load_float_model(models, model: str) -> Graph:
    from edgec.frontend.onnx import load_onnx

    return load_onnx(models / "onnx" / f"{model}.onnx")


def test_real_calibration_visual_wake_words(models, capsys):
    graph = load_float_model(models, "visual_wake_words")
    feeds = load_calibration(models / "data" / "calib" / "visual_wake_words.npz", graph)
    assert feeds["input"].shape == (180, 1, 96, 96, 3)

    ranges = collect_ranges(graph, feeds)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("calibration: 180/180 samples (100%)")

    assert ranges["input"] == (0.0, 255.0)
    activations = {
        output
        for node in graph.nodes
        for output in node.outputs
        if not graph.tensors[output].is_constant
    }
    assert activations <= set(ranges)
    for name, (low, high) in ranges.items():
        assert np.isfinite(low), name
        assert np.isfinite(high), name
        assert low <= high, name
    softmax = next(node for node in graph.nodes if node.op == "softmax")
    low, high = ranges[softmax.outputs[0]]
    assert 0.0 <= low
    assert high <= 1.0


def test_real_calibration_nhwc_file_for_nchw_model(models):
    graph = load_float_model(models, "visual_wake_words_nchw")
    with pytest.raises(CalibrationError) as error:
        load_calibration(models / "data" / "calib" / "visual_wake_words.npz", graph)
    message = str(error.value)
    assert "calibration input 'input'" in message
    assert "per-sample shape (96, 96, 3)" in message
    assert "expected (1, 3, 96, 96) or (3, 96, 96)" in message


def test_real_model_random_calibration(models):
    graph = load_float_model(models, "keyword_spotting")
    quantized = quantize_model(graph, "random", quiet=True)
    quantized.check()
    float_tensors = {n for n, t in quantized.tensors.items() if t.dtype == "float32"}
    assert float_tensors == {"input", "output"}
