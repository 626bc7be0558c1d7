"""Kernel variant selection (edgec.lower.variants) seen from the compiler's outputs: the
choice per layer in report.json, `--kernels ref`, the folded bias, the flash the replaced
arrays no longer take, the per-layer bench, and the target files' [kernels] isa key.

The bit-exactness of each variant is tested in tests/kernels/test_variant_kernels.py and
on the real models in tests/e2e.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec.bench import bench_layers, bench_project
from edgec.errors import TargetError
from edgec.ir import Graph, Node, Quant, Tensor
from edgec.lower.variants import VARIANTS, choose_variant, folded_bias, rejection_reasons
from edgec.pipeline import compile_model
from edgec.targets import load_target

EMULATED = [pytest.mark.qemu, pytest.mark.cross]
AD_MODEL = Path("tflite") / "anomaly_detection_int8.tflite"


@pytest.fixture(scope="module")
def ad_projects(models, tmp_path_factory) -> dict[str, Path]:
    """Anomaly detection compiled for cortex-m4 with each kernel mode."""
    base = tmp_path_factory.mktemp("variants")
    projects = {}
    for mode in ("auto", "ref"):
        projects[mode] = base / mode
        compile_model(models / AD_MODEL, "cortex-m4", projects[mode], quiet=True, kernels=mode)
    return projects


def report_layers(project: Path) -> list[dict]:
    return json.loads((project / "report.json").read_text())["layers"]


def fully_connected_graph(weights: np.ndarray, bias: np.ndarray | None, zero_point: int) -> Graph:
    graph = Graph()
    out_depth, in_depth = weights.shape
    scale = Quant(np.array([0.1], dtype=np.float32), np.array([zero_point]))
    graph.add_tensor(Tensor("x", (1, in_depth), "int8", quant=scale))
    weight_quant = Quant(np.full(out_depth, 0.01, dtype=np.float32),
                         np.zeros(out_depth, dtype=np.int64), axis=0)
    graph.add_tensor(Tensor("w", weights.shape, "int8", weights, weight_quant))
    inputs = ["x", "w"]
    if bias is not None:
        bias_quant = Quant(np.full(out_depth, 0.001, dtype=np.float32),
                           np.zeros(out_depth, dtype=np.int64), axis=0)
        graph.add_tensor(Tensor("b", bias.shape, "int32", bias, bias_quant))
        inputs.append("b")
    graph.add_tensor(Tensor("y", (1, out_depth), "int8", quant=scale))
    graph.inputs, graph.outputs = ["x"], ["y"]
    graph.nodes.append(Node("fully_connected", "fc", inputs, ["y"], {}))
    return graph


def test_folded_bias_wraps_to_int32():
    weights = np.array([[127, 127, 127], [-128, 5, 0]], dtype=np.int8)
    bias = np.array([2**31 - 1, -7], dtype=np.int32)
    graph = fully_connected_graph(weights, bias, zero_point=-100)

    folded = folded_bias(graph.nodes[0], graph)

    # input_offset = 100: channel 0 wraps past INT32_MAX, channel 1 does not.
    expected = [2**31 - 1 + 100 * 381 - 2**32, -7 + 100 * -123]
    assert folded.dtype == np.int32
    assert folded.tolist() == expected


def test_folded_bias_without_bias_is_offset_term_only():
    weights = np.array([[1, 2, 3, 4]], dtype=np.int8)
    graph = fully_connected_graph(weights, None, zero_point=3)

    assert folded_bias(graph.nodes[0], graph).tolist() == [-3 * 10]


def test_no_variant_without_target_isa():
    graph = fully_connected_graph(np.ones((4, 16), dtype=np.int8), None, zero_point=0)
    node = graph.nodes[0]

    assert choose_variant(node, graph, []) is None
    assert choose_variant(node, graph, ["dsp"]).isa == "dsp"


def test_rejection_names_failed_predicate():
    graph = fully_connected_graph(np.ones((4, 16), dtype=np.int8), None, zero_point=0)
    node = graph.nodes[0]
    graph.tensors["w"].quant.zero_point[:] = 3  # a filter zero point: no folding

    reasons = rejection_reasons(node, graph, ["dsp", "mve"])

    assert reasons == [
        "fully_connected_s8_mve: filter_symmetric",
        "fully_connected_s8_dsp: filter_symmetric",
    ]
    assert choose_variant(node, graph, ["dsp", "mve"]) is None


def test_helium_variant_before_dsp_variant():
    graph = fully_connected_graph(np.ones((4, 16), dtype=np.int8), None, zero_point=0)
    node = graph.nodes[0]

    assert choose_variant(node, graph, ["dsp", "mve"]).isa == "mve"
    assert choose_variant(node, graph, ["mve", "dsp"]).isa == "mve"


def test_every_variant_has_its_c_source():
    from edgec.resources import runtime_dir

    missing = [v.source for v in VARIANTS if not (runtime_dir() / v.source).is_file()]
    assert not missing, f"variants without a C file: {', '.join(missing)}"


def test_every_variant_listed_in_docs():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "KERNELS.md").read_text()

    missing = [v.name for v in VARIANTS if f"| `{v.name}` |" not in docs]
    assert not missing, f"variants missing from the table in docs/KERNELS.md: {missing}"


def test_target_rejects_unknown_isa(tmp_path, monkeypatch):
    source = (Path(__file__).resolve().parents[1] / "targets" / "cortex-m4.toml").read_text()
    (tmp_path / "cortex-m4.toml").write_text(source.replace('isa = ["dsp"]', 'isa = ["neon"]'))
    monkeypatch.setattr("edgec.targets.targets_dir", lambda: tmp_path)

    with pytest.raises(TargetError, match=r"\[kernels\] isa lists neon"):
        load_target("cortex-m4")


@pytest.mark.cross
def test_report_records_variant_and_predicates(ad_projects):
    auto = report_layers(ad_projects["auto"])
    fc = [layer for layer in auto if layer["op"] == "fully_connected"]

    assert len(fc) == 10
    assert {layer["kernel"] for layer in fc} == {"edgec_fully_connected_s8_dsp"}
    assert all("filter_symmetric" in layer["variant_predicates"] for layer in fc)
    assert all(layer["variant_rejected"] == [] for layer in fc)
    assert all(layer["variant"] == "" for layer in report_layers(ad_projects["ref"]))


@pytest.mark.cross
def test_replaced_arrays_are_not_emitted(ad_projects):
    """The variant's arranged filter replaces the reference filter: the weights are in the
    project once, padded to the kernel's depth multiple, not twice."""
    auto = (ad_projects["auto"] / "model_weights.c").stat().st_size
    ref = (ad_projects["ref"] / "model_weights.c").stat().st_size

    assert auto < 1.2 * ref


@pytest.mark.parametrize("mode", ["auto", "ref"])
def test_kernel_mode_recorded_in_metadata(ad_projects, mode):
    metadata = json.loads((ad_projects[mode] / "edgec.json").read_text())

    assert metadata["kernels"] == mode


@pytest.mark.qemu
@pytest.mark.cross
def test_bench_layers_add_up_to_total(ad_projects):
    total = bench_project(ad_projects["auto"])["instructions"]
    layers = bench_layers(ad_projects["auto"])

    assert [layer["name"] for layer in layers] == [
        layer["name"] for layer in report_layers(ad_projects["auto"])
    ]
    summed = sum(layer["instructions"] for layer in layers)
    # Each layer also counts its profiling hook (a few dozen instructions).
    assert total <= summed <= total + 100 * len(layers)
    fc = [layer for layer in layers if layer["op"] == "fully_connected"]
    assert all(layer["instructions"] > layer["macs"] / 2 for layer in fc)


@pytest.mark.qemu
@pytest.mark.cross
def test_cli_bench_layers_prints_one_row_per_layer(ad_projects):
    result = subprocess.run(
        [sys.executable, "-m", "edgec.cli", "bench", str(ad_projects["auto"]), "--layers"],
        capture_output=True, text=True, check=False,
    )

    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "edgec_fully_connected_s8_dsp" in line]
    assert len(rows) == 10
