"""edgec's quantization methods side by side with onnxruntime's quantize_static.

For each MLPerf Tiny float ONNX model (NHWC files) and the same calibration and eval data
(data/calib, data/eval), this script measures the end-output SQNR against onnxruntime float
and, for the classifiers, the top-1 agreement, of:

- onnxruntime quantize_static (QDQ, per-channel int8 weights, int8 activations) with each
  calibration method: MinMax, Entropy, Percentile; evaluated by onnxruntime;
- edgec with each configuration of ``CONFIGS`` (observers and methods), evaluated by the
  reference interpreter, which the tests prove bit-exact with the generated C.

A second table compares the weight methods (``WEIGHT_METHOD_CONFIGS``: round to nearest,
GPTQ and AWQ) at int4 per group of 32 and at int8, minmax observer, against the float
model run by the reference interpreter.

Usage: python bench/quant_methods.py [--models DIR] [--only MODEL] [--table int8|weights]
Prints Markdown tables (the int8 one is in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quant_compare  # noqa: E402

from edgec.frontend import load_model  # noqa: E402
from edgec.metrics import sqnr_db, top1_agreement  # noqa: E402
from edgec.oracles import run_onnxruntime  # noqa: E402
from edgec.quantize.config import parse_config  # noqa: E402
from edgec.quantize.recipe import quantize_with_config  # noqa: E402
from edgec.reference.interpreter import run_samples  # noqa: E402

ORT_METHODS = ["MinMax", "Entropy", "Percentile"]

# Label -> config document (the TOML layout of edgec.quantize.config), int8 throughout.
_P99999 = {"observer": "percentile", "observer_options": {"percentile": 99.999}}
_CLE = {"cross_layer_equalization": True}
CONFIGS: dict[str, dict] = {
    "minmax": {},
    "percentile 99.99": {"defaults": {"observer": "percentile"}},
    "percentile 99.999": {"defaults": _P99999},
    "mse": {"defaults": {"observer": "mse"}},
    "entropy": {"defaults": {"observer": "entropy"}},
    "minmax + CLE": {"methods": _CLE},
    "minmax + bias correction": {"defaults": {"bias_correction": True}},
    "minmax + SmoothQuant 0.5": {"methods": {"smoothquant_alpha": 0.5}},
    "entropy + CLE": {"defaults": {"observer": "entropy"}, "methods": _CLE},
    "percentile 99.999 + CLE": {"defaults": _P99999, "methods": _CLE},
    "percentile 99.999 + CLE + bias correction": {
        "defaults": {**_P99999, "bias_correction": True}, "methods": _CLE,
    },
    "mse + CLE + bias correction": {
        "defaults": {"observer": "mse", "bias_correction": True}, "methods": _CLE,
    },
}


# Label -> config document of the weight-method table.
_INT4_G32 = {"weight_bits": 4, "weight_granularity": "per-group", "group_size": 32}
WEIGHT_METHOD_CONFIGS: dict[str, dict] = {
    "int4 g32 RTN": {"defaults": {**_INT4_G32, "weight_method": "rtn"}},
    "int4 g32 GPTQ": {"defaults": {**_INT4_G32, "weight_method": "gptq"}},
    "int4 g32 AWQ": {"defaults": {**_INT4_G32, "weight_method": "awq"}},
    "int8 RTN": {},
    "int8 GPTQ": {"defaults": {"weight_method": "gptq"}},
}


def edgec_outputs(onnx_path: Path, calib: dict, evals: dict, document: dict) -> np.ndarray:
    config = parse_config(document, source="bench")
    graph, _ = quantize_with_config(load_model(onnx_path), calib, config, quiet=True)
    return next(iter(run_samples(graph, evals).values()))


def figures(approx: np.ndarray, reference: np.ndarray, classifier: bool) -> dict:
    approx = np.asarray(approx, dtype=np.float64).reshape(reference.shape)
    result = {"sqnr_db": sqnr_db(approx, reference)}
    if classifier:
        result["top1"] = top1_agreement(approx, reference)
    return result


def measure_model(models: Path, name: str, configs: dict[str, dict] = CONFIGS) -> dict:
    """Figures of every onnxruntime method and edgec config for one model."""
    onnx_path = models / "onnx" / f"{name}.onnx"
    calib, evals = quant_compare.load_data(models, name, onnx_path)
    reference = next(iter(run_onnxruntime(onnx_path, evals).values())).astype(np.float64)
    classifier = name in quant_compare.CLASSIFIERS
    ort = {
        method: figures(
            quant_compare.onnxruntime_outputs(onnx_path, calib, evals, method), reference,
            classifier,
        )
        for method in ORT_METHODS
    }
    ours = {
        label: figures(edgec_outputs(onnx_path, calib, evals, document), reference, classifier)
        for label, document in configs.items()
    }
    return {"model": name, "samples": len(reference), "onnxruntime": ort, "edgec": ours}


def measure_weight_methods(
    models: Path, name: str, configs: dict[str, dict] = WEIGHT_METHOD_CONFIGS
) -> dict:
    """Measure each weight-method config on one model against the float model run by the
    reference interpreter."""
    onnx_path = models / "onnx" / f"{name}.onnx"
    calib, evals = quant_compare.load_data(models, name, onnx_path)
    float_outputs = run_samples(load_model(onnx_path), evals)
    reference = next(iter(float_outputs.values())).astype(np.float64)
    classifier = name in quant_compare.CLASSIFIERS
    ours = {
        label: figures(edgec_outputs(onnx_path, calib, evals, document), reference, classifier)
        for label, document in configs.items()
    }
    return {"model": name, "samples": len(reference), "edgec": ours}


def best(results: dict) -> tuple[str, dict]:
    """Return the entry with the highest SQNR (ties: the first)."""
    label = max(results, key=lambda key: results[key]["sqnr_db"])
    return label, results[label]


def _cell(entry: dict) -> str:
    text = f"{entry['sqnr_db']:.2f} dB"
    if "top1" in entry:
        text += f" / {100 * entry['top1']:.0f}%"
    return text


def markdown(rows: list[dict]) -> str:
    """One row per method, one column per model."""
    models = [row["model"] for row in rows]
    lines = ["| method | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for method in ORT_METHODS:
        cells = [_cell(row["onnxruntime"][method]) for row in rows]
        lines.append(f"| onnxruntime quantize_static, {method} | " + " | ".join(cells) + " |")
    for label in rows[0]["edgec"]:
        cells = [_cell(row["edgec"][label]) for row in rows]
        lines.append(f"| edgec, {label} | " + " | ".join(cells) + " |")
    for title, key in (("best onnxruntime", "onnxruntime"), ("best edgec", "edgec")):
        cells = [f"{_cell(best(row[key])[1])} ({best(row[key])[0]})" for row in rows]
        lines.append(f"| **{title}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def weight_methods_markdown(rows: list[dict]) -> str:
    """Format the weight-method figures as a Markdown table: a row per config, a column
    per model."""
    models = [row["model"] for row in rows]
    lines = ["| weights | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for label in rows[0]["edgec"]:
        cells = [_cell(row["edgec"][label]) for row in rows]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=quant_compare.default_models_dir(),
                        help="the shared models folder (default: $EDGEC_MODELS or ../shared/models)")
    parser.add_argument("--only", choices=quant_compare.MODELS, help="measure one model")
    parser.add_argument("--table", choices=["int8", "weights"],
                        help="print only the int8 methods table or only the weight-method table")
    args = parser.parse_args(argv)
    if not (args.models / "onnx").is_dir():
        parser.error(f"no onnx/ folder in {args.models}; pass --models or set EDGEC_MODELS")
    names = [args.only] if args.only else quant_compare.MODELS
    if args.table != "weights":
        rows = []
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr)
            rows.append(measure_model(args.models, name))
        print("Cells: output SQNR against onnxruntime float / top-1 agreement (classifiers).\n")
        print(markdown(rows))
    if args.table != "int8":
        rows = []
        for name in names:
            print(f"bench: {name} weight methods ...", file=sys.stderr)
            rows.append(measure_weight_methods(args.models, name))
        print("\nWeight methods, minmax observer. Cells: output SQNR against the float model run "
              "by the reference interpreter / top-1 agreement (classifiers).\n")
        print(weight_methods_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
