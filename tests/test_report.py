"""The footprint report (report.json, report.md) and the memory picture (memory.svg) of
`edgec compile`, checked against the generated C, its object files and the IR shapes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from edgec.fit import STACK_BASE_BYTES
from edgec.memory import MemoryPlan
from edgec.memory_picture import render_memory_svg
from edgec.pipeline import compile_model, load_quantized
from edgec.report import arena_usage, planned_entries
from edgec.targets import load_target

from .conftest import MLPERF_TINY

SVG = "{http://www.w3.org/2000/svg}"
CASES = [f"tflite/{name}_int8.tflite" for name in MLPERF_TINY] + [
    f"onnx/{name}.onnx" for name in MLPERF_TINY
]
# The cortex-m4 target's own flags, without the warning options.
CORTEX_M4_FLAGS = [f for f in load_target("cortex-m4").cflags if not f.startswith("-W")]


def _calibration(models: Path, filename: str) -> str | None:
    if not filename.endswith(".onnx"):
        return None
    return str(models / "data" / "calib" / f"{Path(filename).stem}.npz")


@pytest.fixture(scope="module")
def project(models, tmp_path_factory):
    """Compile a model for cortex-m4 once per module; return its project folder."""
    compiled: dict[str, Path] = {}

    def compile_once(filename: str) -> Path:
        if filename not in compiled:
            out = tmp_path_factory.mktemp("report") / Path(filename).stem
            compile_model(
                models / filename, "cortex-m4", out, _calibration(models, filename), quiet=True
            )
            compiled[filename] = out
        return compiled[filename]

    return compile_once


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def _tensor_rects(svg_path: Path) -> list[ElementTree.Element]:
    root = ElementTree.parse(svg_path).getroot()
    return [rect for rect in root.iter(f"{SVG}rect") if "tensor" in rect.get("class", "").split()]


def _symbol_sizes(objects: list[Path], nm: str = "nm") -> dict[str, tuple[str, int]]:
    """Symbol name -> (nm type letter, size) of the defined symbols that have a size."""
    lines = subprocess.run(
        [nm, "-S", "--size-sort", *map(str, objects)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    symbols = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4:
            symbols[parts[3]] = (parts[2], int(parts[1], 16))
    return symbols


def _compile_objects(folder: Path, sources: list[str], compiler: list[str]) -> list[Path]:
    objects = []
    for source in sources:
        obj = folder / "build-test" / f"{Path(source).stem}.o"
        obj.parent.mkdir(exist_ok=True)
        subprocess.run(
            [
                *compiler,
                "-c",
                str(folder / source),
                "-I",
                str(folder),
                "-I",
                str(folder / "include"),
                "-o",
                str(obj),
            ],
            check=True,
        )
        objects.append(obj)
    return objects


@pytest.mark.parametrize("filename", CASES)
def test_report_files_written(project, filename):
    folder = project(filename)

    report = _report(folder)
    markdown = (folder / "report.md").read_text()
    assert (folder / "memory.svg").is_file()
    assert report["memory_picture"] == "memory.svg"
    assert "](memory.svg)" in markdown
    assert "STM32F412 (1 MB flash, 256 KB SRAM)" in markdown
    assert "| flash | " in markdown
    assert "| RAM | " in markdown
    assert "`edgec bench DIR`" in markdown
    assert "edgec bench DIR" in report["estimates"]["note"]
    assert report["board"]["ram_bytes"] == 262_144
    assert "memory.svg" in json.loads((folder / "edgec.json").read_text())["files"]


@pytest.mark.parametrize("filename", CASES)
def test_picture_one_rect_per_planned_tensor(project, filename):
    folder = project(filename)
    report = _report(folder)

    rects = _tensor_rects(folder / "memory.svg")

    assert len(rects) == len(report["tensors"]) > 0
    titles = [rect.find(f"{SVG}title").text for rect in rects]
    for tensor in report["tensors"]:
        prefix = f": {tensor['bytes']:,} bytes at offset {tensor['arena_offset']:,}, "
        assert sum(prefix in t and f", {tensor['name']} (" in t for t in titles) == 1, tensor


def test_picture_matches_plan_of_tflite_model(models, tmp_path):
    from edgec.codegen.generator import build_model_code
    from edgec.frontend import load_model
    from edgec.targets import load_target

    model = models / "tflite" / "visual_wake_words_int8.tflite"
    report = compile_model(model, "cortex-m4", tmp_path / "out")
    isas = load_target("cortex-m4").kernel_isas
    plan = build_model_code(load_model(model), "model", model, isas).plan

    rects = _tensor_rects(tmp_path / "out" / "memory.svg")

    assert len(rects) == len(plan.offsets)
    assert {t["name"] for t in report["tensors"]} == set(plan.offsets)
    assert report["totals"]["arena_bytes"] == plan.arena_bytes


@pytest.mark.parametrize("filename", CASES)
def test_totals_equal_object_symbol_sizes(project, filename):
    folder = project(filename)
    totals = _report(folder)["totals"]
    objects = _compile_objects(folder, ["model.c", "model_weights.c"], ["gcc", "-O2", "-std=c99"])

    symbols = _symbol_sizes(objects)
    weights = _symbol_sizes(objects[1:])

    assert symbols["model_arena"][1] == totals["arena_bytes"]
    assert all(kind == "R" for kind, _ in weights.values())
    assert sum(size for _, size in weights.values()) == totals["weight_bytes"]


@pytest.mark.cross
@pytest.mark.parametrize("filename", CASES[:4])
def test_param_bytes_equal_cortex_m4_objects(project, filename):
    folder = project(filename)
    totals = _report(folder)["totals"]
    objects = _compile_objects(
        folder, ["model.c", "model_weights.c"], ["arm-none-eabi-gcc", *CORTEX_M4_FLAGS]
    )

    structs = _symbol_sizes(objects[:1], "arm-none-eabi-nm")
    weights = _symbol_sizes(objects[1:], "arm-none-eabi-nm")

    struct_bytes = sum(size for name, (kind, size) in structs.items() if kind == "r")
    padding = sum(-size % 4 for _, size in weights.values())
    assert struct_bytes + padding == totals["param_bytes"]


@pytest.mark.cross
@pytest.mark.parametrize("filename", CASES[:4])
def test_code_estimate_not_below_cortex_m4_objects(project, filename):
    folder = project(filename)
    report = _report(folder)
    sources = ["model.c", "model_io.c"] + sorted(
        str(path.relative_to(folder)) for path in (folder / "kernels").rglob("*.c")
    )
    objects = _compile_objects(folder, sources, ["arm-none-eabi-gcc", *CORTEX_M4_FLAGS])

    sections = subprocess.run(
        ["arm-none-eabi-size", "-A", *map(str, objects)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    code = sum(int(line.split()[1]) for line in sections if line.startswith(".text"))

    assert code > 0
    assert code <= report["totals"]["code_bytes_estimate"]
    assert report["estimates"]["code_bytes"]["total"] == report["totals"]["code_bytes_estimate"]


def _independent_macs(node, graph) -> int:
    """MACs from the IR shapes alone: output elements times the taps of one output."""
    output = graph.tensors[node.outputs[0]].shape
    weights = graph.tensors[node.inputs[1]].shape
    if node.op == "conv2d":
        taps = weights[1] * weights[2] * graph.tensors[node.inputs[0]].shape[-1]
    elif node.op == "depthwise_conv2d":
        taps = weights[1] * weights[2]
    else:
        taps = weights[1]
    return int(np.prod(output)) * taps


@pytest.mark.parametrize("filename", CASES)
def test_layer_macs_match_ir_shapes(models, project, filename):
    folder = project(filename)
    report = _report(folder)
    graph = load_quantized(models / filename, _calibration(models, filename), quiet=True)
    nodes = {node.name: node for node in graph.nodes}

    checked = 0
    for layer in report["layers"]:
        if layer["op"] in ("conv2d", "depthwise_conv2d", "fully_connected"):
            assert layer["macs"] == _independent_macs(nodes[layer["name"]], graph), layer["name"]
            checked += 1

    assert checked > 0
    header = (folder / "model.h").read_text()
    assert f"#define MODEL_MACS {report['totals']['macs']}\n" in header


@pytest.mark.parametrize("filename", CASES)
def test_layer_offsets_appear_in_model_c(project, filename):
    folder = project(filename)
    source = (folder / "model.c").read_text()

    for layer in _report(folder)["layers"]:
        if not layer["kernel"]:
            continue  # a view: no call
        if layer["arena_offset"] is not None:
            assert f"(model_arena + {layer['arena_offset']})" in source, layer["name"]
        for offset in layer["input_offsets"]:
            if offset is not None:
                assert f"(const int8_t *)(model_arena + {offset})" in source, layer["name"]


@pytest.mark.parametrize("filename", CASES)
def test_totals_add_up(project, filename):
    folder = project(filename)
    report = _report(folder)
    totals = report["totals"]
    header = (folder / "model_io.h").read_text()
    # The caller's buffers of model_invoke_io(); the integer copies live in the arena.
    io_defines = re.findall(r"#define MODEL_IO_(?:INPUT|OUTPUT)_BYTES (\d+)", header)
    ports = json.loads((folder / "edgec.json").read_text())
    float_io = any(p["dtype"] == "float32" for p in ports["inputs"] + ports["outputs"])
    assert ("model_input_buffer" in (folder / "model.h").read_text()) == float_io

    assert totals["io_bytes"] == sum(int(value) for value in io_defines)
    assert totals["flash_bytes_estimate"] == (
        totals["weight_bytes"] + totals["param_bytes"] + totals["code_bytes_estimate"]
    )
    assert totals["ram_bytes_estimate"] == (
        totals["arena_bytes"] + totals["io_bytes"] + totals["stack_bytes_estimate"]
    )
    assert totals["stack_bytes_estimate"] >= STACK_BASE_BYTES
    assert totals["macs"] == sum(layer["macs"] for layer in report["layers"])
    board = report["board"]
    assert board["ram_used_percent"] == round(100 * totals["ram_bytes_estimate"] / 262_144, 1)


@pytest.mark.parametrize("filename", CASES)
def test_peak_layer_most_bytes_in_use(project, filename):
    report = _report(project(filename))
    layers = report["layers"]
    peak = report["totals"]["peak_layer"]

    live = [layer["live_arena_bytes"] for layer in layers]
    assert peak["index"] == live.index(max(live))
    assert peak["name"] == layers[peak["index"]]["name"]
    assert peak["live_arena_bytes"] == max(live) <= report["totals"]["arena_bytes"]
    for index, layer in enumerate(layers):
        covering = [t for t in report["tensors"] if t["first_layer"] <= index <= t["last_layer"]]
        in_use = np.zeros(report["totals"]["arena_bytes"], dtype=bool)
        for tensor in covering:
            in_use[tensor["arena_offset"] : tensor["arena_offset"] + tensor["bytes"]] = True
        assert layer["live_arena_bytes"] == int(in_use.sum())
        assert layer["arena_extent_bytes"] <= report["totals"]["arena_bytes"]


def test_compile_twice_gives_identical_picture(models, tmp_path):
    model = models / "onnx" / "keyword_spotting.onnx"
    calibration = _calibration(models, "onnx/keyword_spotting.onnx")

    compile_model(model, "cortex-m4", tmp_path / "first", calibration, quiet=True)
    compile_model(model, "cortex-m4", tmp_path / "second", calibration, quiet=True)

    first = (tmp_path / "first" / "memory.svg").read_bytes()
    assert first == (tmp_path / "second" / "memory.svg").read_bytes()
    assert (tmp_path / "first" / "report.md").read_bytes() == (
        tmp_path / "second" / "report.md"
    ).read_bytes()


def _plan_with_sharing() -> MemoryPlan:
    """Three steps: 'a' feeds 'b' in place (partly overlapping), step 1 has scratch."""
    return MemoryPlan(
        offsets={"a": 0, "b": 64, "scratch:1": 272, 'x<&>"y': 320},
        lifetimes={"a": (0, 1), "b": (1, 2), 'x<&>"y': (2, 2)},
        sizes={"a": 200, "b": 200, "scratch:1": 48, 'x<&>"y': 16},
        arena_bytes=336,
    )


def _fake_report(plan: MemoryPlan, names: list[str]) -> dict:
    return {
        "model": "toy<model>.onnx",
        "target": "host",
        "layers": [{"name": name} for name in names],
        "totals": {"peak_layer": {
            "index": 1, "name": names[1], "arena_extent_bytes": 320, "live_arena_bytes": 312,
        }},
    }


def test_arena_usage_counts_shared_bytes_once():
    entries = planned_entries(_plan_with_sharing())

    assert [e["name"] for e in entries] == ["a", "b", "scratch:1", 'x<&>"y']
    assert entries[2]["first_layer"] == entries[2]["last_layer"] == 1
    assert arena_usage(entries, 0) == (200, 200)
    assert arena_usage(entries, 1) == (312, 320)  # a and b share 136 bytes
    assert arena_usage(entries, 2) == (216, 336)
    assert arena_usage(entries, 3) == (0, 0)


def test_picture_escapes_names_and_marks_scratch():
    plan = _plan_with_sharing()
    names = ["conv<1>", "dw & relu", 'fc "head"']

    svg = render_memory_svg(plan, _fake_report(plan, names))

    root = ElementTree.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if "tensor" in r.get("class", "").split()]
    assert len(rects) == 4
    titles = [rect.find(f"{SVG}title").text for rect in rects]
    escaped = [title for title in titles if 'x<&>"y' in title]
    assert len(escaped) == 1
    assert "written by layer 2 'fc \"head\"'" in escaped[0]
    assert sum("scratch" in r.get("class").split() for r in rects) == 1
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "peak"]) == 1
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "arena size 336 bytes" in texts
    assert "toy<model>.onnx" in texts
    assert "arena offset (bytes)" in texts
    assert "layer (execution step)" in texts


def test_picture_of_empty_plan():
    plan = MemoryPlan()

    svg = render_memory_svg(
        plan, {"model": None, "target": "host", "layers": [], "totals": {"peak_layer": None}}
    )

    root = ElementTree.fromstring(svg)
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "tensor"]
    assert "no intermediate tensors" in svg
