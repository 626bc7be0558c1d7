"""Float ONNX models quantized by edgec vs onnxruntime's quantize_static vs the shipped TFLite.

For each MLPerf Tiny float ONNX model (NHWC file and `_nchw` file) and the same calibration
and eval data (data/calib, data/eval), this script measures the end-output SQNR against
onnxruntime float and, for the classifiers, the top-1 agreement, of:

- edgec: min-max calibration, int8 per-channel weights (the reference interpreter's output,
  which the tests prove bit-exact with the C code on cortex-m4);
- onnxruntime quantize_static: QDQ, per-channel, MinMax, int8 activations and weights,
  evaluated by onnxruntime;
- the shipped int8 TFLite model, run by TFLite Micro (NHWC inputs).

Usage: python bench/quant_compare.py [--models DIR] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgec.frontend import load_model
from edgec.metrics import sqnr_db, top1_agreement
from edgec.oracles import run_onnxruntime, run_tflite_micro
from edgec.quantize import quantize_model
from edgec.reference.interpreter import run_samples

REPOSITORY = Path(__file__).resolve().parents[1]
MODELS = ["keyword_spotting", "image_classification", "visual_wake_words", "anomaly_detection"]
CLASSIFIERS = {"keyword_spotting", "image_classification", "visual_wake_words"}


def default_models_dir() -> Path:
    configured = os.environ.get("EDGEC_MODELS")
    return Path(configured) if configured else REPOSITORY.parent / "shared" / "models"


def model_files(models: Path, name: str) -> list[Path]:
    files = [models / "onnx" / f"{name}.onnx"]
    nchw = models / "onnx" / f"{name}_nchw.onnx"
    return files + ([nchw] if nchw.is_file() else [])


def load_data(models: Path, name: str, onnx_path: Path) -> tuple[dict, dict]:
    """Calibration and eval feeds, transposed to NCHW for `_nchw` files."""
    calib = dict(np.load(models / "data" / "calib" / f"{name}.npz"))
    evals = dict(np.load(models / "data" / "eval" / f"{name}.npz"))
    if onnx_path.stem.endswith("_nchw"):
        calib = {k: v.transpose(0, 3, 1, 2).copy() for k, v in calib.items()}
        evals = {k: v.transpose(0, 3, 1, 2).copy() for k, v in evals.items()}
    return calib, evals


def edgec_outputs(onnx_path: Path, calib: dict, evals: dict) -> np.ndarray:
    graph = quantize_model(load_model(onnx_path), calib, quiet=True)
    return next(iter(run_samples(graph, evals).values()))


class _Reader:
    """onnxruntime CalibrationDataReader over a dict of sample arrays."""

    def __init__(self, feeds: dict, shapes: dict):
        count = len(next(iter(feeds.values())))
        self._samples = iter(
            {k: v[i].reshape(shapes[k]) for k, v in feeds.items()} for i in range(count)
        )

    def get_next(self):
        return next(self._samples, None)


def onnxruntime_outputs(
    onnx_path: Path, calib: dict, evals: dict, method: str = "MinMax"
) -> np.ndarray:
    """Eval outputs of onnxruntime's quantize_static (QDQ, per-channel, int8) model.

    ``method`` is a CalibrationMethod name: MinMax, Entropy or Percentile.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(onnx_path))
    shapes = {
        i.name: [d.dim_value or 1 for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    with tempfile.TemporaryDirectory() as tmp:
        quantized = Path(tmp) / "model_qdq.onnx"
        quantize_static(
            str(onnx_path), str(quantized), _Reader(calib, shapes),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, method),
        )
        return next(iter(run_onnxruntime(quantized, evals).values()))


def tflite_outputs(models: Path, name: str) -> np.ndarray | None:
    path = models / "tflite" / f"{name}_int8.tflite"
    evals = np.load(models / "data" / "eval" / f"{name}.npz")["input"]
    from edgec.frontend.tflite import load_tflite

    graph = load_tflite(path)
    tensor = graph.tensors[graph.inputs[0]]
    if tensor.dtype == "int8":
        scale, zero_point = tensor.quant.scale[0], tensor.quant.zero_point[0]
        evals = np.clip(np.round(evals / scale) + zero_point, -128, 127).astype(np.int8)
    out = run_tflite_micro(path, [evals])[0]
    out_tensor = graph.tensors[graph.outputs[0]]
    if out_tensor.dtype == "int8":
        q = out_tensor.quant
        out = (out.astype(np.float32) - q.zero_point[0]) * q.scale[0]
    return out


def figures(approx: np.ndarray, reference: np.ndarray, classifier: bool) -> dict:
    approx = np.asarray(approx, dtype=np.float64).reshape(reference.shape)
    result = {"sqnr_db": sqnr_db(approx, reference)}
    if classifier:
        result["top1"] = top1_agreement(approx, reference)
    return result


def compare_model(models: Path, onnx_path: Path, name: str) -> dict:
    calib, evals = load_data(models, name, onnx_path)
    reference = next(iter(run_onnxruntime(onnx_path, evals).values())).astype(np.float64)
    classifier = name in CLASSIFIERS
    row = {
        "model": onnx_path.name,
        "samples": len(reference),
        "edgec": figures(edgec_outputs(onnx_path, calib, evals), reference, classifier),
        "onnxruntime": figures(onnxruntime_outputs(onnx_path, calib, evals), reference, classifier),
    }
    tflite = tflite_outputs(models, name)
    row["tflite_int8"] = figures(tflite, reference, classifier)
    return row


def _cell(figures_of: dict) -> str:
    text = f"{figures_of['sqnr_db']:.2f} dB"
    if "top1" in figures_of:
        text += f" / {100 * figures_of['top1']:.0f}%"
    return text


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| model | eval samples | edgec (min-max, per-channel) | onnxruntime quantize_static "
        "(QDQ, per-channel, MinMax) | shipped int8 TFLite (TFLite Micro) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['samples']} | {_cell(row['edgec'])} | "
            f"{_cell(row['onnxruntime'])} | {_cell(row['tflite_int8'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=default_models_dir())
    args = parser.parse_args()
    rows = []
    for name in MODELS:
        for path in model_files(args.models, name):
            print(f"bench: {path.name} ...", file=sys.stderr)
            rows.append(compare_model(args.models, path, name))
    print("Cells: output SQNR against onnxruntime float / top-1 agreement (classifiers).\n")
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
