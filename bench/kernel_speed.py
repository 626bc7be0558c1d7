"""Instructions per inference of edgec's reference and optimized kernels on the Cortex-M
targets, against TFLite Micro + CMSIS-NN (bench/tflm_figures.py).

For each MLPerf Tiny int8 TFLite model and each target, the script compiles the model twice
(`--kernels ref` and `--kernels auto`), runs `edgec bench` on both under qemu-system-arm
-icount shift=0, and prints one Markdown table row: MACs, both instruction counts, MACs per
instruction of the optimized build, its ratio to TFLite Micro + CMSIS-NN where
bench/tflm_figures.py has a figure, and flash_bytes against TFLite Micro's model array +
code (cortex-m4).
With --layers MODEL it also prints the per-layer instructions of that model on the first
target (`edgec bench --layers`), reference against optimized.

Usage: python bench/kernel_speed.py [--targets cortex-m4,cortex-m55,...] [--models DIR]
                                    [--layers keyword_spotting] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from bench.tflm_figures import (
    MODELS,
    TFLM_CMSIS_NN_INSTRUCTIONS,
    TFLM_FLASH_BYTES,
)
from edgec.bench import bench_layers, bench_project
from edgec.pipeline import compile_model

DEFAULT_TARGETS = "cortex-m4,cortex-m7,cortex-m33,cortex-m55"


def default_models_dir() -> Path:
    configured = os.environ.get("EDGEC_MODELS")
    return Path(configured) if configured else REPOSITORY.parent / "shared" / "models"


def build(models: Path, name: str, target: str, kernels: str, work: Path) -> Path:
    project = work / f"{name}-{target}-{kernels}"
    model = models / "tflite" / f"{name}_int8.tflite"
    compile_model(model, target, project, None, "model", quiet=True, kernels=kernels)
    return project


def measure(models: Path, name: str, target: str, work: Path) -> dict:
    ref = bench_project(build(models, name, target, "ref", work))
    auto = bench_project(build(models, name, target, "auto", work))
    return {"model": name, "target": target, "ref": ref, "auto": auto}


def _ratio(value: int | None, reference: int | None) -> str:
    if value is None or reference is None:
        return "-"
    return f"{value / reference:.2f}"


def speed_table(rows: list[dict]) -> str:
    lines = [
        ("| target | model | MACs | reference kernels | optimized kernels | speed-up | "
        "MACs per instruction | TFLite Micro + CMSIS-NN | ratio |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ref, auto = row["ref"]["instructions"], row["auto"]["instructions"]
        tflm = TFLM_CMSIS_NN_INSTRUCTIONS.get(row["target"], {}).get(row["model"])
        lines.append(
            f"| {row['target']} | {row['model']} | {auto_macs(row):,} | {ref:,} | {auto:,} | "
            f"{ref / auto:.2f}x | {auto_macs(row) / auto:.2f} | "
            f"{f'{tflm:,}' if tflm else '-'} | {_ratio(auto, tflm)} |"
        )
    return "\n".join(lines)


def auto_macs(row: dict) -> int:
    return row["auto"]["macs"]


def flash_table(rows: list[dict]) -> str:
    lines = [
        ("| model | edgec flash_bytes (optimized, cortex-m4) | TFLite Micro model array + code | "
        "ratio |"),
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        if row["target"] != "cortex-m4":
            continue
        flash, tflm = row["auto"]["flash_bytes"], TFLM_FLASH_BYTES[row["model"]]
        lines.append(f"| {row['model']} | {flash:,} | {tflm:,} | {flash / tflm:.2f} |")
    return "\n".join(lines)


def layer_table(models: Path, name: str, target: str, work: Path) -> str:
    ref = bench_layers(work / f"{name}-{target}-ref")
    auto = bench_layers(work / f"{name}-{target}-auto")
    lines = [
        f"Per layer, {name} on {target} (`edgec bench --layers`):",
        "",
        "| # | op | MACs | reference kernel | instructions | optimized kernel | instructions |",
        "|---:|---|---:|---|---:|---|---:|",
    ]
    for index, (a, b) in enumerate(zip(ref, auto, strict=True)):
        lines.append(
            f"| {index} | {a['op']} | {a['macs']:,} | {a['kernel'] or '(view)'} | "
            f"{a['instructions']:,} | {b['kernel'] or '(view)'} | {b['instructions']:,} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=DEFAULT_TARGETS)
    parser.add_argument("--models", type=Path, default=default_models_dir())
    parser.add_argument("--layers", metavar="MODEL", help="per-layer table of MODEL")
    parser.add_argument("--keep", type=Path, help="keep the generated projects here")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="edgec-kernel-speed-") as tmp:
        work = args.keep or Path(tmp)
        rows = []
        for target in targets:
            for name in MODELS:
                print(f"measuring {name} on {target}", file=sys.stderr)
                rows.append(measure(args.models, name, target, work))
        print(speed_table(rows))
        print()
        print(flash_table(rows))
        if args.layers:
            print()
            print(layer_table(args.models, args.layers, targets[0], work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
