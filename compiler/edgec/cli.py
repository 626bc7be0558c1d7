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


def _quant_config(args):
    """Build the QuantConfig of --config and the quantization flags (None when none is given)."""
    from edgec.fit import parse_byte_size
    from edgec.quantize.config import QuantConfig, load_config, with_overrides

    flags = {
        "observer": args.observer,
        "observer_options": {"percentile": args.percentile} if args.percentile else None,
        "weight_granularity": args.weight_granularity,
        "weight_bits": args.weight_bits,
        "group_size": args.group_size,
        "weight_method": args.weight_method,
        "bias_correction": True if args.bias_correction else None,
        "cross_layer_equalization": True if args.cle else None,
        "smoothquant_alpha": args.smoothquant,
        "weight_budget": (
            parse_byte_size(args.weight_budget, "--weight-budget") if args.weight_budget else None
        ),
    }
    if args.config is None and all(value is None for value in flags.values()):
        return None
    config = load_config(args.config) if args.config else QuantConfig(source="the command line")
    return with_overrides(config, **flags)


def _add_quantization_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("quantization of float models (all optional)")
    group.add_argument("--config", help="quantization config TOML (see docs/QUANTIZATION.md)")
    group.add_argument("--observer", help="activation calibration: minmax (default), "
                       "moving_minmax, percentile, mse or entropy")
    group.add_argument("--percentile", type=float,
                       help="with --observer percentile: the percentile of values kept inside "
                       "the range (default 99.99)")
    group.add_argument("--weight-bits", type=int, choices=[4, 8],
                       help="weight bits (default 8)")
    group.add_argument("--weight-granularity", choices=["per-channel", "per-tensor", "per-group"],
                       help="weight scales (default per-channel; per-group needs 4 bits)")
    group.add_argument("--group-size", type=int,
                       help="values per group along the reduction axis (default 32)")
    group.add_argument("--weight-method", choices=["rtn", "gptq", "awq"],
                       help="weight rounding: rtn (round to nearest, default), gptq (GPTQ "
                       "error feedback) or awq (AWQ activation-aware scales)")
    group.add_argument("--bias-correction", action="store_true",
                       help="correct the mean output shift that weight rounding causes")
    group.add_argument("--cle", action="store_true", help="cross-layer equalization")
    group.add_argument("--smoothquant", type=float, metavar="ALPHA",
                       help="migrate activation outliers into weights (SmoothQuant, 0..1)")
    group.add_argument("--weight-budget", metavar="BYTES",
                       help="choose int8 or int4 weights per layer so that the weight arrays "
                       "fit BYTES (K, KB, M, MB suffixes: 1 K = 1024)")


def _add_kernels_option(p) -> None:
    from edgec.lower.variants import KERNEL_MODES

    p.add_argument("--kernels", choices=KERNEL_MODES, default="auto",
                   help="auto (default): the target's optimized kernels where they apply; "
                   "ref: the portable reference kernels only; cmsis-nn: Arm's CMSIS-NN "
                   "functions where they compute a layer exactly (Cortex-M targets)")
    p.add_argument("--cmsis-nn", metavar="PATH",
                   help="CMSIS-NN checkout (the folder with Include/ and Source/) for "
                   "--kernels cmsis-nn; default: $EDGEC_CMSIS_NN")


def cmd_compile(args) -> int:
    from edgec.fit import parse_byte_size
    from edgec.pipeline import compile_model

    flash = parse_byte_size(args.flash, "--flash") if args.flash is not None else None
    ram = parse_byte_size(args.ram, "--ram") if args.ram is not None else None
    report = compile_model(
        _model_path(args.model), args.target, Path(args.output), args.calibration, args.prefix,
        flash_bytes=flash, ram_bytes=ram, config=_quant_config(args), kernels=args.kernels,
        cmsis_nn=args.cmsis_nn,
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
        timeout_s=args.timeout, config=_quant_config(args), kernels=args.kernels,
        cmsis_nn=args.cmsis_nn,
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

    from edgec.bench import bench_layers, bench_project, format_bench, format_layers

    result = bench_project(Path(args.dir), args.timeout)
    if args.layers:
        result["layers"] = bench_layers(Path(args.dir), args.timeout)
    if args.json:
        print(json.dumps(result))
        return 0
    print(format_bench(result, Path(args.dir)))
    if args.layers:
        print(format_layers(result["layers"]))
    return 0


def cmd_quantize_report(args) -> int:
    from edgec.frontend import load_model
    from edgec.pipeline import needs_quantization
    from edgec.quantize.config import ConfigError
    from edgec.quantize.recipe import quantize_with_config
    from edgec.quantize_report import build_quantize_report, render_markdown, write_quantize_report
    from edgec.runner import load_input_file

    model = _model_path(args.model)
    float_graph = load_model(model)
    if not needs_quantization(float_graph):
        raise ConfigError(f"{model} is already quantized; quantize-report takes a float model")
    eval_arrays = load_input_file(Path(args.eval))
    int_graph, log = quantize_with_config(float_graph, args.calibration, _quant_config(args))
    report = build_quantize_report(float_graph, int_graph, eval_arrays, log)
    paths = write_quantize_report(report, Path(args.output), model.name)
    print(render_markdown(report, model.name))
    print(f"edgec: wrote {', '.join(str(p) for p in paths)}")
    return 0


def cmd_inspect(args) -> int:
    from edgec.inspect import describe_model

    print(describe_model(_model_path(args.model), layers=args.layers))
    return 0


def cmd_targets(args) -> int:
    from edgec.targets import list_targets

    targets = list_targets()
    width = max(len(target.name) for target in targets)
    for target in targets:
        board = f" [{target.board}]" if target.board else ""
        print(f"{target.name:{width}} {target.description}{board}")
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
    _add_quantization_options(p)
    p.add_argument("--prefix", default="model", help="C name prefix (default: model)")
    p.add_argument("--flash", metavar="BYTES",
                   help="flash limit in bytes (K, KB, M, MB suffixes: 1 K = 1024); "
                   "replaces the limit of the target's board (host has none)")
    p.add_argument("--ram", metavar="BYTES",
                   help="RAM limit in bytes (K, KB, M, MB suffixes: 1 K = 1024); "
                   "replaces the limit of the target's board (host has none)")
    _add_kernels_option(p)
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
    _add_quantization_options(p)
    _add_kernels_option(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "quantize-report", help="per-layer accuracy of the quantized model against the float one",
        description="Quantize a float model as `compile` would, run the float and the "
        "quantized model in the reference interpreter on the eval samples, and print and write "
        "per-layer SQNR and the outputs' SQNR, cosine similarity and top-1 agreement.",
    )
    p.add_argument("model", help="float model file (.onnx or .tflite)")
    p.add_argument("--calibration", required=True, help="calibration .npz")
    p.add_argument("--eval", required=True, help=".npz of eval inputs")
    p.add_argument("--output", default="quantize_report",
                   help="folder for quantize_report.json and .md (default quantize_report)")
    _add_quantization_options(p)
    p.set_defaults(func=cmd_quantize_report)

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
    p.add_argument("--layers", action="store_true",
                   help="also build a profiling build and give each layer's instructions "
                   "(Cortex-M under QEMU -icount) or time")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("inspect", help="print a model's inputs, outputs and operators")
    p.add_argument("model", help="model file (.onnx or .tflite)")
    p.add_argument("--layers", action="store_true",
                   help="also list every layer's op and name (for [layers] in --config)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("targets", help="list the known targets")
    p.set_defaults(func=cmd_targets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
