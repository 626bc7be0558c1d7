"""Tests of edgec.quantize.observers and observers_histogram: ranges, options, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgec.errors import CalibrationError
from edgec.ir import Graph, Node, Tensor
from edgec.metrics import sqnr_db
from edgec.quantize import collect_ranges, load_calibration, quantize_model
from edgec.quantize.observers import OBSERVERS, make_observer, method_options
from edgec.quantize.observers_histogram import HistogramCollector, kl_threshold_bin
from edgec.quantize.params import activation_quant, quantize_values
from edgec.reference.interpreter import run_samples

METHODS = ["minmax", "moving_minmax", "percentile", "mse", "entropy"]
HISTOGRAM_METHODS = ["percentile", "mse", "entropy"]


def observe(method: str, samples, options: dict | None = None) -> tuple[float, float]:
    """Feed each sample to a new observer of ``method`` and return its range."""
    observer = make_observer(method, options)
    for sample in samples:
        observer.update(np.asarray(sample))
    return observer.range()


def quantization_error(values: np.ndarray, low: float, high: float) -> float:
    """Mean squared error of quantizing ``values`` to int8 with the range [low, high]."""
    quant = activation_quant(low, high)
    codes = quantize_values(values, quant).astype(np.float64)
    restored = float(quant.scale[0]) * (codes - int(quant.zero_point[0]))
    return float(np.mean((restored - values) ** 2))


# --- registry and options ---------------------------------------------------------------


def test_registry_has_every_method():
    assert set(METHODS) <= set(OBSERVERS)


def test_method_options_defaults():
    assert method_options("minmax") == {}
    assert method_options("moving_minmax") == {"momentum": 0.9}
    assert method_options("percentile") == {"percentile": 99.99, "bins": 2048}
    assert method_options("mse") == {"bins": 2048, "steps": 100}
    assert method_options("entropy") == {"bins": 2048}


def test_make_observer_unknown_method():
    with pytest.raises(CalibrationError) as error:
        make_observer("kl")
    message = str(error.value)
    assert "unknown calibration method 'kl'" in message
    assert "'entropy'" in message
    assert "'percentile'" in message


def test_make_observer_unknown_option():
    with pytest.raises(CalibrationError) as error:
        make_observer("percentile", {"percentil": 99.9})
    message = str(error.value)
    assert "unknown option 'percentil' for calibration method 'percentile'" in message
    assert "valid options: ['bins', 'percentile']" in message


def test_make_observer_option_for_minmax():
    with pytest.raises(CalibrationError, match="method 'minmax'; it takes no options"):
        make_observer("minmax", {"bins": 2048})


def test_make_observer_options_not_mapping():
    with pytest.raises(CalibrationError, match="options must be a mapping"):
        make_observer("percentile", [("percentile", 99.0)])


@pytest.mark.parametrize(
    "method, options, expected",
    [
        (
            "percentile",
            {"percentile": 50},
            "option 'percentile' is 50; expected a number in (50, 100]",
        ),
        ("percentile", {"percentile": 100.5}, "option 'percentile' is 100.5"),
        ("percentile", {"percentile": "99"}, "option 'percentile' is '99'"),
        ("percentile", {"percentile": float("nan")}, "option 'percentile' is nan"),
        ("percentile", {"bins": 8}, "option 'bins' is 8; expected an integer in [16, 65536]"),
        ("mse", {"bins": 2048.0}, "option 'bins' is 2048.0; expected an integer"),
        ("mse", {"bins": True}, "option 'bins' is True"),
        ("mse", {"steps": 1}, "option 'steps' is 1; expected an integer in [2, 1000]"),
        ("entropy", {"bins": 256}, "option 'bins' is 256; expected an integer in [512, 65536]"),
        (
            "moving_minmax",
            {"momentum": 1.0},
            "option 'momentum' is 1.0; expected a number in [0, 1)",
        ),
        ("moving_minmax", {"momentum": -0.1}, "option 'momentum' is -0.1"),
    ],
)
def test_make_observer_bad_option_value(method, options, expected):
    with pytest.raises(CalibrationError) as error:
        make_observer(method, options)
    assert f"calibration method '{method}'" in str(error.value)
    assert expected in str(error.value)


def test_make_observer_valid_options_applied():
    assert make_observer("percentile", {"percentile": 100}).percentile == 100.0
    assert make_observer("mse", {"bins": 16, "steps": 2}).histogram.bins == 16
    assert make_observer("moving_minmax", {"momentum": 0}).momentum == 0.0
    assert make_observer("entropy", None).histogram.bins == 2048


# --- minmax and moving_minmax ------------------------------------------------------------


def test_minmax_over_samples():
    samples = [np.array([0.5, -1.0]), np.array([3.0, 0.0]), np.array([-2.5])]
    assert observe("minmax", samples) == (-2.5, 3.0)


def test_moving_minmax_hand_computed():
    samples = [np.array([-1.0, 2.0]), np.array([-3.0, 4.0, 0.0]), np.array([0.0, 1.0])]
    low, high = observe("moving_minmax", samples)
    # min: -1 -> 0.9 * -1 + 0.1 * -3 = -1.2 -> 0.9 * -1.2 + 0.1 * 0 = -1.08
    # max:  2 -> 0.9 * 2 + 0.1 * 4 = 2.2 -> 0.9 * 2.2 + 0.1 * 1 = 2.08
    assert low == pytest.approx(-1.08, abs=1e-12)
    assert high == pytest.approx(2.08, abs=1e-12)


def test_moving_minmax_momentum_option():
    samples = [np.array([-1.0, 2.0]), np.array([-3.0, 4.0])]
    assert observe("moving_minmax", samples, {"momentum": 0.5}) == (-2.0, 3.0)
    assert observe("moving_minmax", samples, {"momentum": 0.0}) == (-3.0, 4.0)


def test_moving_minmax_first_sample_initialises():
    assert observe("moving_minmax", [np.array([0.25, 7.0])]) == (0.25, 7.0)


def test_moving_minmax_skips_empty_samples():
    samples = [np.zeros(0), np.array([1.0, 2.0]), np.zeros(0)]
    assert observe("moving_minmax", samples) == (1.0, 2.0)


# --- histogram collector -------------------------------------------------------------------


def test_histogram_first_sample_sets_range():
    histogram = HistogramCollector(bins=64)
    values = np.linspace(-2.0, 6.0, 1000)
    histogram.update(values)
    assert histogram.low == -2.0
    assert histogram.high >= 6.0
    assert histogram.high == pytest.approx(6.0, rel=1e-12)
    assert histogram.total == 1000
    assert histogram.counts.sum() == 1000


def test_histogram_growth_keeps_total_and_counts():
    rng = np.random.default_rng(5)
    samples = [
        rng.normal(0.0, 1.0, 5000),
        rng.normal(0.0, 3.0, 5000),
        rng.uniform(-20.0, 5.0, 5000),
        rng.normal(40.0, 1.0, 5000),
        np.zeros(500),
    ]
    histogram = HistogramCollector(bins=256)
    widths = []
    for sample in samples:
        histogram.update(sample)
        widths.append(histogram.width)
    values = np.concatenate(samples)

    assert histogram.counts.size == 256
    assert widths[-1] > widths[0]
    assert histogram.total == values.size
    assert histogram.zero_count == 500
    assert histogram.counts.sum() + histogram.zero_count == values.size
    assert histogram.low <= values.min()
    assert histogram.high >= values.max()
    # Merging whole old bins keeps the counts of a histogram of all values on the final
    # edges. Only values that land exactly on a bin edge may move to the neighbouring bin.
    nonzero = values[values != 0.0]
    expected, _ = np.histogram(nonzero, bins=histogram.edges())
    assert np.abs(histogram.counts - expected).sum() <= 0.001 * values.size


def test_histogram_growth_keeps_half_the_bins_in_use():
    histogram = HistogramCollector(bins=100)
    # Each sample grows the range a little, on alternating sides.
    for sample in ([0.0, 1.0], [1.01], [-0.01], [1.5], [-0.6], [4.0]):
        histogram.update(np.array(sample))
        in_use = (histogram.max - histogram.min) / (histogram.high - histogram.low)
        assert in_use >= 0.5 - 2 / histogram.bins
        assert histogram.low <= histogram.min
        assert histogram.high >= histogram.max
    assert histogram.total == 7


def test_histogram_shift_without_widening():
    rng = np.random.default_rng(7)
    # The max is not 1.0: the last bin contains its upper edge, which becomes an inner edge
    # after growth, and np.histogram would put a value there into the next bin.
    first = np.concatenate([[0.0, 0.9999], rng.uniform(0.0, 0.9999, 1000)])
    histogram = HistogramCollector(bins=100)
    histogram.update(first)
    histogram.update(np.array([1.005]))
    # 101 bins of width 0.01 do not fit in 100: the width doubles, with the spare room above.
    assert histogram.width == pytest.approx(0.02, rel=1e-3)
    assert histogram.low == 0.0
    # The values occupy 51 bins, so growing below 0 by one bin only moves the range.
    width = histogram.width
    histogram.update(np.array([-0.015]))
    assert histogram.width == width
    assert histogram.low <= -0.015
    assert histogram.high >= 1.005
    assert histogram.counts.sum() + histogram.zero_count == 1004
    values = np.concatenate([first, [1.005, -0.015]])
    expected, _ = np.histogram(values[values != 0.0], bins=histogram.edges())
    np.testing.assert_array_equal(histogram.counts, expected)


def test_histogram_growth_keeps_distribution_percentiles():
    rng = np.random.default_rng(6)
    samples = [rng.normal(0.0, 1.0, 20000) * scale for scale in (1.0, 1.5, 2.0, 4.0)]
    histogram = HistogramCollector()
    for sample in samples:
        histogram.update(sample)
    values = np.concatenate(samples)
    for fraction in (0.001, 0.1, 0.5, 0.9, 0.999):
        expected = float(np.quantile(values, fraction))
        assert abs(histogram.quantile(fraction) - expected) <= histogram.width


def test_histogram_growth_from_constant_sample():
    histogram = HistogramCollector(bins=100)
    histogram.update(np.full(50, 2.0))
    assert histogram.width == 0.0
    histogram.update(np.array([0.0, 10.0]))
    assert histogram.total == 52
    assert histogram.low == 0.0
    assert histogram.counts[histogram.bin_indices(np.array([2.0]))[0]] == 50
    assert histogram.counts.sum() == 51


def test_histogram_growth_over_huge_ratio():
    histogram = HistogramCollector(bins=64)
    histogram.update(np.array([1e-30, 2e-30]))
    histogram.update(np.array([1e30]))
    assert histogram.total == 3
    assert histogram.counts.sum() == 3
    assert histogram.counts[0] == 2
    assert histogram.high >= 1e30


def test_histogram_absolute_fold():
    histogram = HistogramCollector(bins=400)
    values = np.concatenate([np.linspace(-4.0, -1.0, 3000), np.linspace(0.5, 2.0, 1000)])
    histogram.update(values)
    counts, width = histogram.absolute_histogram()
    assert width == pytest.approx(4.0 / 400)
    assert counts.sum() == pytest.approx(values.size)
    expected, _ = np.histogram(np.abs(values), bins=400, range=(0.0, 4.0))
    # Folding spreads each source bin evenly, so bin counts differ by about a source bin.
    assert np.abs(np.cumsum(counts) - np.cumsum(expected)).max() <= 2 * values.size / 400


# --- percentile ----------------------------------------------------------------------------


@pytest.mark.parametrize("percentile", [99.0, 99.9, 99.99])
def test_percentile_gaussian_matches_numpy(percentile):
    rng = np.random.default_rng(1)
    samples = [rng.normal(0.5, 2.0, 20000) for _ in range(10)]
    observer = make_observer("percentile", {"percentile": percentile})
    for sample in samples:
        observer.update(sample)
    low, high = observer.range()
    values = np.concatenate(samples)
    width = observer.histogram.width
    assert abs(low - np.percentile(values, 100.0 - percentile)) <= width
    assert abs(high - np.percentile(values, percentile)) <= width


def test_percentile_uniform_positive_keeps_min():
    rng = np.random.default_rng(2)
    samples = [rng.uniform(1.0, 11.0, 50000) for _ in range(4)]
    observer = make_observer("percentile", {"percentile": 99.0})
    for sample in samples:
        observer.update(sample)
    low, high = observer.range()
    values = np.concatenate(samples)
    assert low == values.min()
    assert abs(high - np.percentile(values, 99.0)) <= observer.histogram.width
    assert high == pytest.approx(10.9, abs=0.02)


def test_percentile_100_is_minmax():
    rng = np.random.default_rng(3)
    samples = [rng.normal(size=1000) for _ in range(3)]
    assert observe("percentile", samples, {"percentile": 100}) == observe("minmax", samples)


# --- mse -----------------------------------------------------------------------------------


def test_mse_clips_outliers_and_lowers_error():
    rng = np.random.default_rng(4)
    bulk = [rng.normal(0.0, 1.0, 20000) for _ in range(10)]
    outliers = np.array([-30.0, 25.0, 30.0, 35.0])
    samples = bulk + [outliers]
    values = np.concatenate(samples)

    mse_low, mse_high = observe("mse", samples)
    min_low, min_high = observe("minmax", samples)

    assert min_low < mse_low < 0.0
    assert 0.0 < mse_high < min_high
    mse_error = quantization_error(values, mse_low, mse_high)
    minmax_error = quantization_error(values, min_low, min_high)
    assert mse_error < minmax_error


def test_mse_close_to_best_measured_candidate():
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.laplace(0.0, 1.0, 30000), rng.exponential(2.0, 10000)])
    steps = 20
    low, high = observe("mse", [values], {"steps": steps})
    # Brute force over the same grid, measuring the real quantization error on the values.
    fractions = np.arange(1, steps + 1) / steps
    measured = [
        quantization_error(values, a * values.min(), b * values.max())
        for a in fractions
        for b in fractions
    ]
    assert quantization_error(values, low, high) <= 1.05 * min(measured)


def test_mse_uniform_keeps_full_range():
    rng = np.random.default_rng(9)
    samples = [rng.uniform(-1.0, 3.0, 20000) for _ in range(5)]
    assert observe("mse", samples) == observe("minmax", samples)


def test_mse_relu_output_low_bound_zero():
    rng = np.random.default_rng(10)
    values = np.maximum(rng.laplace(0.0, 1.0, 100000), 0.0)
    low, high = observe("mse", [values])
    assert low == 0.0
    assert high < values.max()


# --- entropy -------------------------------------------------------------------------------


def test_entropy_laplace_clips_tail_keeps_bulk():
    rng = np.random.default_rng(11)
    samples = [rng.laplace(0.0, 1.0, 20000) for _ in range(10)]
    values = np.concatenate(samples)
    low, high = observe("entropy", samples)
    threshold = max(-low, high)
    assert high - low < values.max() - values.min()
    assert threshold < np.abs(values).max()
    assert low == max(values.min(), -threshold)
    assert high == min(values.max(), threshold)
    inside = np.mean((values >= low) & (values <= high))
    assert inside >= 0.99


def test_entropy_gap_above_zero_keeps_range():
    rng = np.random.default_rng(15)
    samples = [np.concatenate([np.zeros(2000), rng.uniform(33.0, 166.0, 2000)]) for _ in range(5)]
    values = np.concatenate(samples)
    low, high = observe("entropy", samples)
    assert low == 0.0
    assert np.mean(values <= high) >= 0.99


def test_entropy_relu_output_ignores_zero_spike():
    rng = np.random.default_rng(12)
    values = np.maximum(rng.normal(0.0, 1.0, 200000), 0.0)
    low, high = observe("entropy", [values])
    assert low == 0.0
    assert high <= values.max()
    # With the zeros kept in the distributions the threshold falls to about 1.8.
    assert high > 3.5
    assert np.mean(values <= high) >= 0.9999


def test_kl_threshold_uniform_histogram_keeps_all_bins():
    assert kl_threshold_bin(np.ones(2048), 128) == 2048
    assert kl_threshold_bin(np.ones(1000), 256) == 1000


def test_kl_threshold_without_candidates():
    assert kl_threshold_bin(np.ones(100), 128) is None
    assert kl_threshold_bin(np.zeros(2048), 128) is None


# --- edge cases ----------------------------------------------------------------------------

EDGE_CASES = {
    "constant": ([np.full(100, 3.5)] * 3, (3.5, 3.5)),
    "negative constant": ([np.full(10, -0.25)], (-0.25, -0.25)),
    "all zero": ([np.zeros(64)] * 2, (0.0, 0.0)),
    "single value": ([np.array([1.5])], (1.5, 1.5)),
    "no sample": ([], (0.0, 0.0)),
    "empty sample": ([np.zeros(0)], (0.0, 0.0)),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("method", METHODS)
def test_edge_case_known_range(method, case):
    samples, expected = EDGE_CASES[case]
    assert observe(method, samples) == expected


def wide_span_samples() -> list[np.ndarray]:
    magnitudes = np.logspace(-30, 30, 61)
    return [np.concatenate([magnitudes, -magnitudes[::2]]), magnitudes[:10], magnitudes]


@pytest.mark.parametrize(
    "case",
    ["wide span", "wide span float32", "positive wide span", "single sample", "growing"],
)
@pytest.mark.parametrize("method", METHODS)
def test_edge_case_finite_ordered_range(method, case):
    rng = np.random.default_rng(13)
    samples = {
        "wide span": wide_span_samples(),
        "wide span float32": [sample.astype(np.float32) for sample in wide_span_samples()],
        "positive wide span": [np.logspace(-30, 30, 200)],
        "single sample": [rng.normal(size=500)],
        "growing": [np.array([1e-30, 2e-30]), np.array([1e30, -1e30]), np.zeros(5)],
    }[case]
    low, high = observe(method, samples)
    values = np.concatenate(samples)
    assert math.isfinite(low)
    assert math.isfinite(high)
    assert low <= high
    assert values.min() <= low
    assert high <= values.max()
    quant = activation_quant(low, high)
    assert np.isfinite(quant.scale).all()
    assert float(quant.scale[0]) > 0.0


@pytest.mark.parametrize("method", HISTOGRAM_METHODS)
def test_histogram_observer_memory_bounded(method):
    observer = make_observer(method, {"bins": 512})
    rng = np.random.default_rng(14)
    for scale in (1.0, 2.0, 8.0, 64.0):
        observer.update(rng.normal(0.0, scale, 4000))
    assert observer.histogram.counts.shape == (512,)
    assert not any(isinstance(value, list) for value in vars(observer).values())


# --- collect_ranges and quantize_model -----------------------------------------------------


def vector_graph() -> Graph:
    """x (1, 4) + offsets -> a, relu(a) -> r."""
    graph = Graph(inputs=["x"], outputs=["r"])
    graph.add_tensor(Tensor("x", (1, 4), "float32"))
    offsets = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    graph.add_tensor(Tensor("offsets", (4,), "float32", offsets))
    graph.add_tensor(Tensor("a", (1, 4), "float32"))
    graph.add_tensor(Tensor("r", (1, 4), "float32"))
    graph.nodes.append(Node("add", "shift", ["x", "offsets"], ["a"]))
    graph.nodes.append(Node("clip", "relu", ["a"], ["r"], {"activation": (0.0, float("inf"))}))
    graph.check()
    return graph


def vector_feeds(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(0.0, 1.0, size=(count, 1, 4)).astype(np.float32)}


def test_collect_ranges_method_options():
    feeds = vector_feeds(50)
    ranges = collect_ranges(
        vector_graph(), feeds, method="percentile", options={"percentile": 90.0}, quiet=True
    )
    expected = observe("percentile", list(feeds["x"]), {"percentile": 90.0})
    assert ranges["x"] == expected
    x_min, x_max = float(feeds["x"].min()), float(feeds["x"].max())
    assert x_min < ranges["x"][0]
    assert ranges["x"][1] < x_max


def test_collect_ranges_method_for_overrides_one_tensor():
    feeds = vector_feeds(30)
    graph = vector_graph()
    ranges = collect_ranges(
        graph,
        feeds,
        method="percentile",
        options={"percentile": 90.0},
        method_for={"r": ("minmax", {}), "a": ("moving_minmax", None)},
        quiet=True,
    )
    relu = np.maximum(feeds["x"] + graph.tensors["offsets"].data, 0.0)
    assert ranges["r"] == (float(relu.min()), float(relu.max()))
    shifted = list(feeds["x"] + graph.tensors["offsets"].data)
    assert ranges["a"] == observe("moving_minmax", shifted)
    assert ranges["x"] == observe("percentile", list(feeds["x"]), {"percentile": 90.0})


def test_collect_ranges_method_for_ignores_unobserved_tensor():
    ranges = collect_ranges(
        vector_graph(), vector_feeds(3), method_for={"offsets": ("mse", {})}, quiet=True
    )
    assert "offsets" not in ranges


def test_collect_ranges_method_for_unknown_tensor():
    with pytest.raises(CalibrationError, match="method_for names tensors \\['y'\\] that are not"):
        collect_ranges(vector_graph(), vector_feeds(3), method_for={"y": ("mse", {})})


def test_collect_ranges_method_for_bad_entry():
    with pytest.raises(CalibrationError, match="method_for\\['a'\\] is 'mse'; expected a"):
        collect_ranges(vector_graph(), vector_feeds(3), method_for={"a": "mse"})


def test_collect_ranges_method_for_bad_option_names_tensor():
    with pytest.raises(CalibrationError) as error:
        collect_ranges(
            vector_graph(), vector_feeds(3), method_for={"a": ("mse", {"percentile": 99.0})}
        )
    message = str(error.value)
    assert message.startswith("method_for['a']: unknown option 'percentile'")
    assert "calibration method 'mse'" in message


def test_collect_ranges_bad_default_option_before_running():
    feeds = {"x": np.full((3, 1, 4), np.nan, dtype=np.float32)}
    # The option error comes first: no sample runs, so the NaN input is never seen.
    with pytest.raises(CalibrationError, match="option 'bins' is 4"):
        collect_ranges(vector_graph(), feeds, method="entropy", options={"bins": 4})


def test_collect_ranges_histogram_method_progress(capsys):
    collect_ranges(vector_graph(), vector_feeds(40), method="entropy")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("calibration: 40/40 samples (100%)")


def test_quantize_model_observer_options():
    graph = vector_graph()
    feeds = vector_feeds(40)
    quantized = quantize_model(
        graph, feeds, method="percentile", quiet=True, observer_options={"percentile": 90.0}
    )
    ranges = collect_ranges(
        graph, feeds, method="percentile", options={"percentile": 90.0}, quiet=True
    )
    quantize_x = next(node for node in quantized.nodes if node.inputs == ["x"])
    assert quantize_x.op == "quantize"
    quant = quantized.tensors[quantize_x.outputs[0]].quant
    expected = activation_quant(*ranges["x"])
    assert float(quant.scale[0]) == float(expected.scale[0])
    assert int(quant.zero_point[0]) == int(expected.zero_point[0])


def test_quantize_model_bad_observer_option():
    with pytest.raises(CalibrationError, match="unknown option 'percentile'"):
        quantize_model(vector_graph(), vector_feeds(3), observer_options={"percentile": 99.0})


# --- real models ---------------------------------------------------------------------------

REAL_MODELS = ["image_classification", "keyword_spotting"]
# The mean of per-sample extremes is narrower than the extremes over all samples, so
# moving_minmax clips more (on image_classification mostly the logits of the last layer)
# and stays below minmax by about 9 to 11 dB. The floor for the other observers is 10 dB.
SQNR_FLOOR_DB = {"moving_minmax": 5.0}


def test_real_models_sqnr_per_observer(models):
    from edgec.frontend.onnx import load_onnx

    table = []
    for model in REAL_MODELS:
        graph = load_onnx(models / "onnx" / f"{model}.onnx")
        calibration = load_calibration(models / "data" / "calib" / f"{model}.npz", graph)
        evaluation = load_calibration(models / "data" / "eval" / f"{model}.npz", graph)
        output = graph.outputs[0]
        reference = run_samples(graph, evaluation)[output]
        for method in METHODS:
            quantized = quantize_model(graph, calibration, method=method, quiet=True)
            approx = run_samples(quantized, evaluation)[output]
            table.append((model, method, sqnr_db(approx, reference)))

    print("\nSQNR of the int8 against the float output on data/eval, calibrated on data/calib")
    print(f"{'model':<22} {'observer':<14} {'SQNR dB':>8}")
    for model, method, sqnr in table:
        print(f"{model:<22} {method:<14} {sqnr:>8.2f}")
    for model, method, sqnr in table:
        assert math.isfinite(sqnr), (model, method)
        assert sqnr > SQNR_FLOOR_DB.get(method, 10.0), (model, method, sqnr)
