"""Keyword spotting on an emulated Cortex-M4: compile, run in QEMU, check against TFLite Micro.

Compiles the MLPerf Tiny keyword-spotting int8 TFLite model for the cortex-m4 target, runs
the real eval spectrograms on QEMU's mps2-an386 board, prints the keyword predicted for each
input, and checks that the board's output equals TFLite Micro's bit for bit.

Models are read from $EDGEC_MODELS, else from ../shared/models beside the repository.
Exits 1 when the outputs differ.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgec.oracles import run_tflite_micro
from edgec.pipeline import compile_model
from edgec.runner import run_project

REPOSITORY = Path(__file__).resolve().parents[1]


def models_dir() -> Path:
    configured = os.environ.get("EDGEC_MODELS")
    return Path(configured) if configured else REPOSITORY.parent / "shared" / "models"


def main() -> int:
    models = models_dir()
    model = models / "tflite" / "keyword_spotting_int8.tflite"
    if not model.is_file():
        print(f"demo: {model} not found; set EDGEC_MODELS to the models folder", file=sys.stderr)
        return 2
    inputs = np.load(models / "data" / "eval" / "keyword_spotting.npz")["input"]
    features = np.load(models / "data" / "kws_features_50x10.npz")
    classes = [str(c) for c in features["classes"]]
    sources = _spoken_labels(inputs, features)

    with tempfile.TemporaryDirectory(prefix="edgec-demo-") as tmp:
        project = Path(tmp) / "kws_cortex_m4"
        print(f"demo: compiling {model.name} for cortex-m4 into {project}")
        report = compile_model(model, "cortex-m4", project)
        print(f"demo: arena {report['totals']['arena_bytes']} bytes, "
              f"{report['totals']['macs']} MACs per inference")
        print(f"demo: running {len(inputs)} eval inputs on QEMU mps2-an386 (Cortex-M4)")
        board = run_project(project, {"input": inputs})
    board_out = next(iter(board.values())).reshape(len(inputs), -1)
    tflm_out = run_tflite_micro(model, [inputs])[0].reshape(len(inputs), -1)

    for i, (scores, source) in enumerate(zip(board_out, sources)):
        best = int(np.argmax(scores))
        print(f"  input {i} ({source}): predicted '{classes[best]}' ({scores[best]:.2f})")
    if np.array_equal(board_out, tflm_out):
        print(f"demo: Cortex-M4 output is bit-exact with TFLite Micro on all {len(inputs)} inputs")
        return 0
    differing = int(np.sum(np.any(board_out != tflm_out, axis=1)))
    print(f"demo: Cortex-M4 output differs from TFLite Micro on {differing} inputs", file=sys.stderr)
    return 1


def _spoken_labels(inputs: np.ndarray, features) -> list[str]:
    """Return the recording each eval input was cut from, where the feature set names it."""
    labels = []
    for sample in inputs:
        matches = [i for i, x in enumerate(features["x"]) if np.array_equal(x, sample)]
        labels.append(str(features["window_source"][matches[0]]) if matches else "unlabelled")
    return labels


if __name__ == "__main__":
    sys.exit(main())
