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
) -> dict:
    """Compile ``model_path`` for ``target_name`` into ``out_dir``; return the report.

    The model must fit the target's board, whose limits ``flash_bytes`` and ``ram_bytes``
    override (``--flash``, ``--ram``).
    """
    target = load_target(target_name)
    check_output_dir(out_dir)
    graph = load_quantized(model_path, calibration, quiet=quiet, config=config)
    graph.name = model_path.stem
    limits = board_limits(target, flash_bytes, ram_bytes)
    return generate(graph, target, out_dir, prefix, model_path, limits)


def generate(
    graph: Graph, target: Target, out_dir: Path, prefix: str, source: Path | None,
    limits: BoardLimits | None = None,
) -> dict:
    """Write the C project of the integer ``graph`` into ``out_dir`` atomically.

    Raises MemoryPlanError before touching ``out_dir`` when the flash or RAM estimate
    exceeds ``limits``. None skips that check.
    """
    if not prefix.isidentifier() or not prefix.isascii():
        raise EdgecError(f"--prefix '{prefix}' is not a valid C identifier")
    if prefix in RESERVED_PREFIXES:
        raise EdgecError(
            f"--prefix '{prefix}' would overwrite the project's own {prefix}.c: choose another"
        )
    out_dir = check_output_dir(out_dir)
    code = build_model_code(graph, prefix, source)
    report = build_report(code, graph, target, source, limits)
    check_fit(report, limits)
    staging = _make_staging_dir(out_dir)
    try:
        write_project(code, graph, target, staging)
        bench_program = toolchain.render_bench(prefix, timed_runs(target))
        (staging / toolchain.BENCH_SOURCE).write_text(bench_program)
        write_report(report, staging)
        write_memory_picture(code.plan, report, staging)
        files = sorted(
            str(path.relative_to(staging)) for path in staging.rglob("*") if path.is_file()
        )
        metadata = {
            "edgec_version": __version__,
            "target": target.name,
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
    return {"name": port.name, "dtype": port.io_dtype, "shape": list(port.shape)}


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
