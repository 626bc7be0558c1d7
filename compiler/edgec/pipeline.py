"""The compile pipeline: model file to quantized IR to C project.

``load_quantized`` reads a model and returns its integer graph, quantizing a float model
from calibration data. ``compile_model`` generates the C project atomically: files are
written to a temporary sibling folder, which replaces the destination only when everything
succeeded, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from edgec import __version__, toolchain
from edgec.bench import timed_runs
from edgec.codegen.generator import build_model_code, write_project
from edgec.errors import CalibrationError, EdgecError
from edgec.fit import BoardLimits, board_limits, check_fit
from edgec.frontend import load_model
from edgec.ir import Graph
from edgec.lower.cmsis_nn import MODE as CMSIS_NN_MODE
from edgec.lower.cmsis_nn import CmsisNn, open_cmsis_nn
from edgec.lower.variants import KERNEL_MODES
from edgec.memory_picture import write_memory_picture
from edgec.report import build_report, write_report
from edgec.runner import METADATA_FILE
from edgec.targets import Target, load_target

BOUNDARY_OPS = {"quantize", "dequantize"}
# Prefixes whose <prefix>.c would collide with a file the project always contains.
RESERVED_PREFIXES = {"harness", "bench"}


def needs_quantization(graph: Graph) -> bool:
    """True when a compute node of ``graph`` still produces float32 values."""
    for node in graph.nodes:
        if node.op in BOUNDARY_OPS:
            continue
        if any(graph.tensors[name].dtype == "float32" for name in node.outputs):
            return True
    return False


def load_quantized(
    model_path: Path, calibration: str | None = None, quiet: bool = False, config=None
) -> Graph:
    """Load ``model_path`` and return its integer graph (``config``: a QuantConfig)."""
    graph = load_model(model_path)
    if not needs_quantization(graph):
        unused = [flag for flag, value in (("--calibration", calibration),
                                           ("the quantization settings", config)) if value]
        if unused and not quiet:
            print(f"edgec: note: {model_path.name} is already quantized; "
                  f"{' and '.join(unused)} not used", file=sys.stderr)
        return graph
    if calibration is None:
        raise CalibrationError(
            f"{model_path} is a float model: pass --calibration DATA.npz (one array per input, "
            "samples on the first axis), or --calibration random for a smoke test only"
        )
    from edgec.quantize.recipe import quantize_with_config

    if calibration == "random" and not quiet:
        print("edgec: warning: --calibration random picks scales from random data; use it "
              "for smoke tests only, never for a model you deploy", file=sys.stderr)
    quantized, _ = quantize_with_config(graph, calibration, config, quiet=quiet)
    return quantized


def compile_model(
    model_path: Path,
    target_name: str,
    out_dir: Path,
    calibration: str | None = None,
    prefix: str = "model",
    quiet: bool = False,
    flash_bytes: int | None = None,
    ram_bytes: int | None = None,
    config=None,
    kernels: str = "auto",
    cmsis_nn: str | None = None,
) -> dict:
    """Compile ``model_path`` for ``target_name`` into ``out_dir``; return the report.

    The model must fit the target's board, whose limits ``flash_bytes`` and ``ram_bytes``
    override (``--flash``, ``--ram``). ``kernels`` is a mode of ``KERNEL_MODES``: "auto"
    uses the target's optimized kernel variants, "ref" the reference kernels only,
    "cmsis-nn" CMSIS-NN functions where they are exact (from the checkout ``cmsis_nn``, by
    default $EDGEC_CMSIS_NN) and the target's variants elsewhere.
    """
    target = load_target(target_name)
    check_output_dir(out_dir)
    kernel_backend(target, kernels, cmsis_nn)
    graph = load_quantized(model_path, calibration, quiet=quiet, config=config)
    graph.name = model_path.stem
    limits = board_limits(target, flash_bytes, ram_bytes)
    return generate(graph, target, out_dir, prefix, model_path, limits, kernels, cmsis_nn,
                    quiet=quiet)


def kernel_isas(target: Target, kernels: str) -> list[str]:
    """Return the instruction set extensions the kernels may use in mode ``kernels``."""
    if kernels not in KERNEL_MODES:
        raise EdgecError(
            f"--kernels {kernels}: unknown mode; choose one of {', '.join(KERNEL_MODES)}"
        )
    return [] if kernels == "ref" else list(target.kernel_isas)


def kernel_backend(target: Target, kernels: str, cmsis_nn: str | None) -> CmsisNn | None:
    """Return the CMSIS-NN backend of --kernels cmsis-nn, None in the other modes.

    Raises an EdgecError for --cmsis-nn without --kernels cmsis-nn, and as
    ``open_cmsis_nn`` does for a target that is not a Cortex-M or an invalid checkout.
    """
    if kernels != CMSIS_NN_MODE:
        if cmsis_nn is not None:
            raise EdgecError(
                f"--cmsis-nn {cmsis_nn} is used only with --kernels {CMSIS_NN_MODE}: add "
                "that option or drop --cmsis-nn"
            )
        return None
    return open_cmsis_nn(target, cmsis_nn)


def generate(
    graph: Graph, target: Target, out_dir: Path, prefix: str, source: Path | None,
    limits: BoardLimits | None = None, kernels: str = "auto", cmsis_nn: str | None = None,
    quiet: bool = True,
) -> dict:
    """Write the C project of the integer ``graph`` into ``out_dir`` atomically.

    Raises MemoryPlanError before touching ``out_dir`` when the flash or RAM estimate
    exceeds ``limits``. None skips that check. With --kernels cmsis-nn, report.json gives
    the CMSIS-NN version, and each layer that CMSIS-NN rejected gets the reason in
    ``cmsis_nn_rejected`` (also printed to stderr unless ``quiet``).
    """
    if not prefix.isidentifier() or not prefix.isascii():
        raise EdgecError(f"--prefix '{prefix}' is not a valid C identifier")
    if prefix in RESERVED_PREFIXES:
        raise EdgecError(
            f"--prefix '{prefix}' would overwrite the project's own {prefix}.c: choose another"
        )
    out_dir = check_output_dir(out_dir)
    isas = kernel_isas(target, kernels)
    backend = kernel_backend(target, kernels, cmsis_nn)
    code = build_model_code(graph, prefix, source, isas, backend)
    report = build_report(code, graph, target, source, limits)
    if backend is not None:
        _report_cmsis_nn(report, backend, quiet)
    check_fit(report, limits)
    staging = _make_staging_dir(out_dir)
    try:
        write_project(code, graph, target, staging)
        bench_program = toolchain.render_bench(prefix, timed_runs(target), len(code.calls))
        (staging / toolchain.BENCH_SOURCE).write_text(bench_program)
        write_report(report, staging)
        write_memory_picture(code.plan, report, staging)
        files = sorted(
            str(path.relative_to(staging)) for path in staging.rglob("*") if path.is_file()
        )
        metadata = {
            "edgec_version": __version__,
            "target": target.name,
            "kernels": kernels,
            "prefix": prefix,
            "model": source.name if source else None,
            "inputs": [_port_json(p) for p in code.boundary.inputs],
            "outputs": [_port_json(p) for p in code.boundary.outputs],
            "files": files + [METADATA_FILE],
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise EdgecError(f"cannot write --output {out_dir}: {error.strerror or error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _report_cmsis_nn(report: dict, backend: CmsisNn, quiet: bool) -> None:
    """Add the CMSIS-NN version and the reasons of rejected layers to ``report``."""
    report["cmsis_nn"] = {"version": backend.version}
    for layer in report["layers"]:
        reason = backend.rejected.get(layer["name"])
        if reason is None:
            continue
        layer["cmsis_nn_rejected"] = reason
        if not quiet:
            print(f"edgec: note: layer '{layer['name']}' ({layer['op']}) keeps "
                  f"{layer['kernel']}: {reason}", file=sys.stderr)


def _make_staging_dir(out_dir: Path) -> Path:
    """Create a temporary sibling of ``out_dir`` with the permissions a new folder gets."""
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    except OSError as error:
        raise EdgecError(
            f"cannot create --output {out_dir}: {error.strerror or error}; choose a writable path"
        ) from error
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    return staging


def _port_json(port) -> dict:
    result = {"name": port.name, "dtype": port.io_dtype, "shape": list(port.shape)}
    if getattr(port, "value_range", None) is not None:
        result["range"] = list(port.value_range)
    return result


def check_output_dir(out_dir: Path) -> Path:
    """Return ``out_dir`` resolved, or raise if compiling into it could lose a user's files.

    A folder is replaced only when it is empty or contains nothing but the files an earlier
    ``edgec compile`` wrote (listed in its edgec.json) and the build/ folder of ``make``.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgecError(f"--output {out_dir} exists and is not a folder: choose another path")
    if Path.cwd().resolve().is_relative_to(out_dir):
        raise EdgecError(
            f"--output {out_dir} is the current folder or contains it: run edgec from "
            "another folder or choose another --output"
        )
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return out_dir
    metadata_path = out_dir / METADATA_FILE
    if not metadata_path.is_file():
        raise EdgecError(
            f"--output {out_dir} is a non-empty folder that edgec did not generate: "
            "choose an empty or new folder"
        )
    try:
        generated = set(json.loads(metadata_path.read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        generated = set()
    foreign = sorted(
        str(path.relative_to(out_dir))
        for path in out_dir.rglob("*")
        if path.is_file()
        and path.relative_to(out_dir).parts[0] != "build"
        and str(path.relative_to(out_dir)) not in generated
    )
    if foreign:
        listed = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise EdgecError(
            f"--output {out_dir} contains files edgec did not write ({listed}): move them "
            "or choose another --output, so that compiling does not delete them"
        )
    return out_dir
