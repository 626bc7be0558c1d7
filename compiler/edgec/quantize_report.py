"""``edgec quantize-report``: how much accuracy each layer loses to quantization.

Runs the float graph and the quantized graph in the reference interpreter on the same eval
samples. For every float activation that has an integer counterpart, the integer values
are dequantized and compared with the float ones (SQNR). The error a layer shows includes
the error of the layers before it, so a sudden drop marks a sensitive layer. For the model
outputs it also gives cosine similarity and, for outputs with more than one value per
sample, top-1 agreement. The same table is written as quantize_report.json and .md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgec.ir import Graph
from edgec.metrics import sqnr_db, top1_agreement
from edgec.quantize.calibration import validate_feeds
from edgec.quantize.recipe import QuantLog
from edgec.reference.interpreter import run_samples

REPORT_STEM = "quantize_report"


def cosine_similarity(approx: np.ndarray, reference: np.ndarray) -> float:
    """Mean over samples of the cosine similarity of the flattened values."""
    a = np.asarray(approx, dtype=np.float64).reshape(len(approx), -1)
    r = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    dots = np.sum(a * r, axis=1)
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 1.0)
    return float(cos.mean())


def build_quantize_report(
    float_graph: Graph, int_graph: Graph, eval_arrays: dict, log: QuantLog | None = None
) -> dict:
    """Per-layer and end-output accuracy of ``int_graph`` against ``float_graph``."""
    feeds = validate_feeds(eval_arrays, float_graph, origin="eval data", kind="eval")
    # Per layer, the reference is the float graph that was quantized, after equalization and
    # the other weight transforms. The model outputs are compared with the model itself.
    layer_reference = log.float_graph if log and log.float_graph else float_graph
    pairs = _activation_pairs(layer_reference, int_graph)
    float_values = run_samples(layer_reference, feeds, keep=[f for f, _ in pairs])
    int_values = run_samples(int_graph, feeds, keep=[i for _, i in pairs])
    layers = []
    for node in layer_reference.nodes:
        for name in node.outputs:
            match = dict(pairs).get(name)
            if match is None:
                continue
            approx = _dequantize(int_values[match], int_graph.tensors[match].quant)
            layers.append({
                "layer": node.name, "op": node.op, "tensor": name,
                "sqnr_db": _finite(sqnr_db(approx, float_values[name])),
            })
    outputs = _output_metrics(float_graph, int_graph, feeds)
    return {
        "samples": len(next(iter(feeds.values()))),
        "methods": log.steps if log else {},
        "layers": layers,
        "outputs": outputs,
    }


def _activation_pairs(float_graph: Graph, int_graph: Graph) -> list[tuple[str, str]]:
    """(float tensor, integer tensor) for every float activation with an integer twin."""
    pairs = []
    for node in float_graph.nodes:
        for name in node.outputs:
            for candidate in (f"{name}_int8", name):
                tensor = int_graph.tensors.get(candidate)
                if tensor is not None and tensor.quant is not None and tensor.dtype != "float32":
                    pairs.append((name, candidate))
                    break
    return pairs


def _dequantize(values: np.ndarray, quant) -> np.ndarray:
    scale = float(quant.scale[0])
    return (np.asarray(values, dtype=np.float64) - int(quant.zero_point[0])) * scale


def _finite(value: float) -> float | None:
    """JSON has no infinity: an exact match (no noise) is reported as null."""
    return None if not np.isfinite(value) else float(value)


def _output_metrics(float_graph: Graph, int_graph: Graph, feeds: dict) -> list[dict]:
    reference = run_samples(float_graph, feeds)
    approx = run_samples(int_graph, feeds)
    rows = []
    for name in float_graph.outputs:
        ref, got = reference[name], np.asarray(approx[name], dtype=np.float64)
        row = {
            "output": name,
            "sqnr_db": _finite(sqnr_db(got, ref)),
            "cosine": round(cosine_similarity(got, ref), 6),
        }
        if ref.reshape(len(ref), -1).shape[1] > 1:
            row["top1_agreement"] = round(top1_agreement(got, ref), 4)
        rows.append(row)
    return rows


def write_quantize_report(report: dict, out_dir: Path, title: str) -> list[Path]:
    """Write quantize_report.json and .md into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{REPORT_STEM}.json"
    md_path = out_dir / f"{REPORT_STEM}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(render_markdown(report, title))
    return [json_path, md_path]


def render_markdown(report: dict, title: str) -> str:
    lines = [f"# Quantization report: {title}", "", f"Eval samples: {report['samples']}", ""]
    for step, changes in report["methods"].items():
        lines.append(f"- {step}: {len(changes)} line(s)")
        lines += [f"  - {change}" for change in changes]
    lines += ["", "| output | SQNR (dB) | cosine | top-1 agreement |", "|---|---:|---:|---:|"]
    for row in report["outputs"]:
        top1 = row.get("top1_agreement")
        lines.append(
            f"| {row['output']} | {_db(row['sqnr_db'])} | {row['cosine']:.4f} | "
            f"{'-' if top1 is None else f'{100 * top1:.1f}%'} |"
        )
    lines += ["", "| # | layer | op | SQNR (dB) |", "|---:|---|---|---:|"]
    for index, row in enumerate(report["layers"]):
        lines.append(f"| {index} | {row['layer']} | {row['op']} | {_db(row['sqnr_db'])} |")
    lines += ["", "A layer's SQNR includes the error of every layer before it.", ""]
    return "\n".join(lines)


def _db(value: float | None) -> str:
    return "exact" if value is None else f"{value:.2f}"
