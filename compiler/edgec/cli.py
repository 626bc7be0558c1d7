"""The ``edgec`` command line: compile, run, verify, bench, inspect, targets.

User errors (``EdgecError``) print one line ``edgec: error: ...`` without a traceback. The
exit status is 2 for invalid input and 1 for a failed build, run or verification.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgec import __version__
from edgec.errors import EdgecError, ModelFormatError


def _model_path(value: str) -> Path:
    path = Path(value)
    if path.is_dir():
        raise ModelFormatError(f"{path} is a folder: give a model file (.onnx or .tflite)")
    if not path.is_file():
        raise ModelFormatError(f"model file {path} not found")
    return path


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return number


def cmd_compile(args) -> int:
    from edgec.fit import parse_byte_size
    from edgec.pipeline import compile_model

    flash = parse_byte_size(args.flash, "--flash") if args.flash is not None else None
    ram = parse_byte_size(args.ram, "--ram") if args.ram is not None else None
    report = compile_model(
        _model_path(args.model), args.target, Path(args.output), args.calibration, args.prefix,
        flash_bytes=flash, ram_bytes=ram,
    )
    totals = report["totals"]
    print(
        f"edgec: wrote {args.output} for {args.target}: {len(report['layers'])} layers, "
        f"{totals['macs']} MACs, {totals['weight_bytes']} weight bytes, "
        f"arena {totals['arena_bytes']} bytes"
    )
    return 0


def cmd_run(args) -> int:
    from edgec.runner import (
        check_output_path,
        load_input_file,
        read_metadata,
        run_project,
        save_output_file,
    )

    output = Path(args.output)
    check_output_path(output)
    arrays = load_input_file(Path(args.input))
    target = read_metadata(Path(args.dir))["target"]
    outputs = run_project(Path(args.dir), arrays, args.timeout)
    save_output_file(output, outputs)
    count = len(next(iter(outputs.values())))
    print(f"edgec: ran {count} samples on {target}, wrote {output}")
    return 0


def cmd_verify(args) -> int:
    from edgec.runner import load_input_file
    from edgec.verify import verify_model

    arrays = load_input_file(Path(args.input)) if args.input else None
    result = verify_model(
        _model_path(args.model), args.target, args.calibration, arrays, args.random,
        timeout_s=args.timeout,
    )
    for line in result.lines + result.mismatches:
        print(f"edgec: {line}")
    if not result.ok:
        print(f"edgec: verification FAILED on {args.target}", file=sys.stderr)
        return 1
    print(f"edgec: verification passed on {args.target} ({result.samples} samples)")
    return 0


def cmd_bench(args) -> int:
    import json

    from edgec.bench import bench_project, format_bench

    result = bench_project(Path(args.dir), args.timeout)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_bench(result, Path(args.dir)))
    return 0


def cmd_inspect(args) -> int:
    from edgec.inspect import describe_model

    print(describe_model(_model_path(args.model)))
    return 0


def cmd_targets(args) -> int:
    from edgec.targets import list_targets

    for target in list_targets():
        board = f" [{target.board}]" if target.board else ""
        print(f"{target.name:12} {target.description}{board}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgec", description="Compile neural networks into integer-only C."
    )
    parser.add_argument("--version", action="version", version=f"edgec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "compile", help="compile a model into a C project",
        description="Compile a model into a C project with report.md and memory.svg; fails "
        "before writing anything when the model does not fit the target's board.",
    )
    p.add_argument("model", help="model file (.onnx or .tflite)")
    p.add_argument("--target", required=True, help="target name (see `edgec targets`)")
    p.add_argument("--output", required=True, help="folder for the generated C project")
    p.add_argument("--calibration", help="calibration .npz (float models), or 'random'")
    p.add_argument("--config", help="quantization config TOML (not supported yet)")
    p.add_argument("--prefix", default="model", help="C name prefix (default: model)")
    p.add_argument("--flash", metavar="BYTES",
                   help="flash limit in bytes (K, KB, M, MB suffixes: 1 K = 1024); "
                   "replaces the limit of the target's board (host has none)")
    p.add_argument("--ram", metavar="BYTES",
                   help="RAM limit in bytes (K, KB, M, MB suffixes: 1 K = 1024); "
                   "replaces the limit of the target's board (host has none)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", help="build a compiled project and run it on its target")
    p.add_argument("dir", help="folder written by `edgec compile`")
    p.add_argument("--input", required=True, help=".npz with one array per model input")
    p.add_argument("--output", required=True, help=".npz to write, one array per output")
    p.add_argument("--timeout", type=_positive_float, default=600.0,
                   help="seconds the run on the target may take (default 600)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("verify", help="compile, run on the target and compare with references")
    p.add_argument("model", help="model file (.onnx or .tflite)")
    p.add_argument("--target", required=True, help="target name (see `edgec targets`)")
    p.add_argument("--calibration", help="calibration .npz (float models), or 'random'")
    p.add_argument("--input", help=".npz of inputs to verify on (float data is quantized "
                   "for integer inputs)")
    p.add_argument("--random", type=_non_negative_int, default=10,
                   help="random samples to add (default 10)")
    p.add_argument("--timeout", type=_positive_float, default=600.0,
                   help="seconds the run on the target may take (default 600)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "bench", help="measure instructions, flash and RAM of one inference",
        description="Build the project's benchmark program and run it once on the target "
        "(QEMU for Cortex-M and Cortex-A) on an all-zero integer input; print instructions "
        "(Cortex-M), wall time (Linux targets), flash, RAM and peak stack.",
    )
    p.add_argument("dir", help="folder written by `edgec compile`")
    p.add_argument("--json", action="store_true",
                   help="print the figures as one JSON object on the last line")
    p.add_argument("--timeout", type=_positive_float, default=600.0,
                   help="seconds the benchmark run on the target may take (default 600)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("inspect", help="print a model's inputs, outputs and operators")
    p.add_argument("model", help="model file (.onnx or .tflite)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("targets", help="list the known targets")
    p.set_defaults(func=cmd_targets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "config", None):
        print("edgec: error: --config is not supported yet; remove it", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except EdgecError as error:
        message = str(error).splitlines()
        print(f"edgec: error: {message[0] if message else type(error).__name__}", file=sys.stderr)
        for line in message[1:]:
            print(f"  {line}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("edgec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
