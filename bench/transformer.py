"""MiniLM sentence embeddings with edgec's integer transformer: accuracy, size and speed of
each quantization method.

For all-MiniLM-L6-v2 (models/onnx/minilm.onnx) and each configuration of ``CONFIGS`` the
script quantizes the model with data/calib/minilm.npz, runs the 64 sentences of
data/eval/minilm.npz through the reference interpreter (bit-exact with the generated C, as
tests/e2e/test_minilm.py checks), and prints one Markdown row:

- weight bytes: the constant arrays as the generated C stores them (int4 packed two per
  byte, with the group multipliers), and their share of the float model's weights;
- mean and minimum cosine similarity of the sentence embeddings with onnxruntime float;
- with --target, the milliseconds per inference of the compiled model under the target's
  emulator (`edgec bench`, wall time: qemu-aarch64 has no instruction count).

Usage: python bench/transformer.py [--models DIR] [--only LABEL] [--target cortex-a53]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from edgec.fit import constant_bytes
from edgec.frontend import load_model
from edgec.ir import Graph
from edgec.metrics import cosine_similarities
from edgec.oracles import run_onnxruntime
from edgec.quantize.config import parse_config
from edgec.quantize.recipe import quantize_with_config
from edgec.reference.interpreter import run_samples

_SMOOTH = {"smoothquant_alpha": 0.5}


def _int4(method: str, group: int) -> dict:
    return {"defaults": {"weight_bits": 4, "weight_granularity": "per-group",
                         "group_size": group, "weight_method": method}}


# Label -> config document (the TOML layout of edgec.quantize.config).
CONFIGS: dict[str, dict] = {
    "RTN W8A8": {},
    "SmoothQuant W8A8": {"methods": _SMOOTH},
    "RTN W4A8 g32": _int4("rtn", 32),
    "GPTQ W4A8 g32": _int4("gptq", 32),
    "AWQ W4A8 g32": _int4("awq", 32),
    "SmoothQuant + RTN W4A8 g32": {**_int4("rtn", 32), "methods": _SMOOTH},
    "SmoothQuant + GPTQ W4A8 g32": {**_int4("gptq", 32), "methods": _SMOOTH},
    "SmoothQuant + AWQ W4A8 g32": {**_int4("awq", 32), "methods": _SMOOTH},
    "RTN W4A8 g128": _int4("rtn", 128),
    "GPTQ W4A8 g128": _int4("gptq", 128),
    "AWQ W4A8 g128": _int4("awq", 128),
}


def models_dir(path: str | None = None) -> Path:
    return Path(path or os.environ.get("EDGEC_MODELS", REPOSITORY.parent / "shared" / "models"))


def minilm_paths(models: Path) -> tuple[Path, Path, Path]:
    """Return the model, calibration and eval paths of MiniLM under ``models``."""
    return (models / "onnx" / "minilm.onnx", models / "data" / "calib" / "minilm.npz",
            models / "data" / "eval" / "minilm.npz")


def quantize(models: Path, document: dict) -> Graph:
    onnx_path, calib, _ = minilm_paths(models)
    config = parse_config(document, source="bench")
    graph, _ = quantize_with_config(load_model(onnx_path), str(calib), config, quiet=True)
    return graph


def weight_bytes(graph: Graph) -> int:
    """Return the size in bytes of the graph's constants as the generated C stores them."""
    return sum(constant_bytes(t) for t in graph.tensors.values() if t.is_constant)


def float_weight_bytes(models: Path) -> int:
    graph = load_model(minilm_paths(models)[0])
    return sum(t.nbytes for t in graph.tensors.values() if t.is_constant)


def embeddings(graph: Graph, evals: dict) -> np.ndarray:
    return next(iter(run_samples(graph, evals).values()))


def float_embeddings(models: Path) -> tuple[dict, np.ndarray]:
    """Return the eval feeds and onnxruntime's float embeddings of them."""
    onnx_path, _, eval_path = minilm_paths(models)
    with np.load(eval_path) as data:
        evals = {name: data[name] for name in data.files}
    return evals, next(iter(run_onnxruntime(onnx_path, evals).values()))


def milliseconds_per_inference(graph: Graph, models: Path, target: str) -> float:
    """Compile ``graph`` for ``target`` and return `edgec bench`'s wall time per inference."""
    from edgec.bench import bench_project
    from edgec.pipeline import generate
    from edgec.targets import load_target

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "minilm"
        generate(graph, load_target(target), project, "model", minilm_paths(models)[0])
        figures = bench_project(project)
    return 1000.0 * float(figures["wall_time_s"])


def measure(models: Path, labels: list[str], target: str | None = None) -> list[dict]:
    evals, reference = float_embeddings(models)
    float_bytes = float_weight_bytes(models)
    rows = []
    for label in labels:
        graph = quantize(models, CONFIGS[label])
        cosines = cosine_similarities(embeddings(graph, evals), reference)
        row = {"label": label, "weight_bytes": weight_bytes(graph), "float_bytes": float_bytes,
               "mean_cosine": float(cosines.mean()), "min_cosine": float(cosines.min())}
        if target is not None:
            row["ms"] = milliseconds_per_inference(graph, models, target)
        rows.append(row)
        print(f"{label}: mean cosine {row['mean_cosine']:.4f}", file=sys.stderr)
    return rows


def markdown(rows: list[dict], target: str | None) -> str:
    header = "| method | weight bytes | of float | mean cosine | min cosine |"
    rule = "|---|---:|---:|---:|---:|"
    if target:
        header += f" ms per inference ({target}) |"
        rule += "---:|"
    lines = [header, rule]
    for row in rows:
        line = (f"| {row['label']} | {row['weight_bytes']:,} | "
                f"{100 * row['weight_bytes'] / row['float_bytes']:.1f}% | "
                f"{row['mean_cosine']:.4f} | {row['min_cosine']:.4f} |")
        if target:
            line += f" {row['ms']:.0f} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="models folder (default: EDGEC_MODELS or ../shared/models)")
    parser.add_argument("--only", action="append", choices=list(CONFIGS),
                        help="measure only this configuration (repeatable)")
    parser.add_argument("--target", help="also time the compiled model on this target")
    args = parser.parse_args(argv)
    models = models_dir(args.models)
    if not minilm_paths(models)[0].is_file():
        print(f"error: {minilm_paths(models)[0]} not found; set EDGEC_MODELS", file=sys.stderr)
        return 2
    rows = measure(models, args.only or list(CONFIGS), args.target)
    print(markdown(rows, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
