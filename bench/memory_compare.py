"""RAM, flash and instructions of edgec against TFLite Micro for the MLPerf Tiny int8 models.

For each of the four int8 TFLite models this script measures, in one process:

- TFLite Micro: arena_used_bytes (``total``), which is its tensors (``head``) plus its
  interpreter structures (``tail``). The figure comes from tflite-micro's Python
  interpreter, a 64-bit host build, whose structures are larger than on a 32-bit
  microcontroller. Also the size of the .tflite flatbuffer it keeps in flash;
- edgec for cortex-m4 with the reference kernels (``--kernels ref``): the planned arena
  and the caller's I/O buffers in the model's I/O types (report.json), and what
  ``edgec bench`` measures under qemu-system-arm -icount shift=0 (instructions per
  inference of model_invoke, flash bytes of the model and runtime objects, flash of the
  whole ELF, peak stack).

Usage: python bench/memory_compare.py [--models DIR] [--keep DIR]
Prints a Markdown table (the one in docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from edgec.bench import bench_project
from edgec.oracles import tflite_micro_arena_bytes
from edgec.pipeline import compile_model

REPOSITORY = Path(__file__).resolve().parents[1]
MODELS = ["keyword_spotting", "visual_wake_words", "image_classification", "anomaly_detection"]
TARGET = "cortex-m4"


def default_models_dir() -> Path:
    configured = os.environ.get("EDGEC_MODELS")
    return Path(configured) if configured else REPOSITORY.parent / "shared" / "models"


def measure(models: Path, name: str, work: Path) -> dict:
    model = models / "tflite" / f"{name}_int8.tflite"
    project = work / name
    # The reference kernels: TFLite Micro's Python interpreter runs its reference kernels
    # too. bench/kernel_speed.py covers the optimized kernels.
    report = compile_model(model, TARGET, project, None, "model", kernels="ref")
    edgec = bench_project(project)
    return {
        "model": name,
        "tflm": tflite_micro_arena_bytes(model),
        "tflite_bytes": model.stat().st_size,
        "arena": report["totals"]["arena_bytes"],
        "io": report["totals"]["io_bytes"],
        "bench": edgec,
    }


def markdown(rows: list[dict]) -> str:
    header = (
        "| model | TFLite Micro arena_used_bytes (head + tail) | edgec arena | ratio | "
        "edgec all RAM: ram_bytes + caller's I/O | ratio | edgec stack | .tflite bytes | "
        "edgec flash_bytes | edgec elf_flash_bytes | MACs | instructions (cortex-m4) | "
        "MACs per instruction |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        tflm, bench = row["tflm"], row["bench"]
        all_ram = bench["ram_bytes"] + row["io"]
        lines.append(
            f"| {row['model']} | {tflm['total']:,} ({tflm['head']:,} + {tflm['tail']:,}) | "
            f"{row['arena']:,} | {row['arena'] / tflm['total']:.2f}x | "
            f"{bench['ram_bytes']:,} + {row['io']:,} = {all_ram:,} | "
            f"{all_ram / tflm['total']:.2f}x | {bench['stack_bytes']:,} | "
            f"{row['tflite_bytes']:,} | {bench['flash_bytes']:,} | "
            f"{bench['elf_flash_bytes']:,} | {bench['macs']:,} | {bench['instructions']:,} | "
            f"{bench['macs'] / bench['instructions']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=default_models_dir(),
                        help="the shared models folder (default: $EDGEC_MODELS or ../shared/models)")
    parser.add_argument("--keep", type=Path, help="keep the generated projects in this folder")
    args = parser.parse_args(argv)
    if not (args.models / "tflite").is_dir():
        parser.error(f"no tflite/ folder in {args.models}; pass --models or set EDGEC_MODELS")
    with tempfile.TemporaryDirectory(prefix="edgec-memory-") as scratch:
        work = args.keep or Path(scratch)
        rows = []
        for name in MODELS:
            print(f"measuring {name} ...", file=sys.stderr)
            rows.append(measure(args.models, name, work))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
