"""The compile pipeline: model file to quantized IR to C project, as one list of steps.

``load_quantized`` reads a model and returns its integer graph (quantizing a float model
from calibration data); ``compile_model`` generates the C project into a folder atomically:
files are written to a temporary sibling folder that replaces the destination only when
everything succeeded, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from edgec import __version__
from edgec.codegen.generator import build_model_code, write_project
from edgec.errors import CalibrationError, EdgecError
from edgec.frontend import load_model
from edgec.ir import Graph
from edgec.report import build_report, write_report
from edgec.runner import METADATA_FILE
from edgec.targets import Target, load_target

BOUNDARY_OPS = {"quantize", "dequantize"}


def needs_quantization(graph: Graph) -> bool:
    """True when a compute node of ``graph`` still produces float32 values."""
    for node in graph.nodes:
        if node.op in BOUNDARY_OPS:
            continue
        if any(graph.tensors[name].dtype == "float32" for name in node.outputs):
            return True
    return False


def load_quantized(model_path: Path, calibration: str | None = None, quiet: bool = False) -> Graph:
    """Load ``model_path`` and return its integer graph."""
    graph = load_model(model_path)
    if not needs_quantization(graph):
        return graph
    if calibration is None:
        raise CalibrationError(
            f"{model_path} is a float model: pass --calibration DATA.npz (one array per input, "
            "samples on the first axis), or --calibration random for a smoke test only"
        )
    from edgec.quantize import quantize_model

    return quantize_model(graph, calibration, quiet=quiet)


def compile_model(
    model_path: Path,
    target_name: str,
    out_dir: Path,
    calibration: str | None = None,
    prefix: str = "model",
    quiet: bool = False,
) -> dict:
    """Compile ``model_path`` for ``target_name`` into ``out_dir``; return the report."""
    target = load_target(target_name)
    _check_output_dir(out_dir)
    graph = load_quantized(model_path, calibration, quiet=quiet)
    graph.name = model_path.stem
    return generate(graph, target, out_dir, prefix, model_path)


def generate(graph: Graph, target: Target, out_dir: Path, prefix: str, source: Path | None) -> dict:
    """Write the C project of the integer ``graph`` into ``out_dir`` atomically."""
    if not prefix.isidentifier() or not prefix.isascii():
        raise EdgecError(f"--prefix '{prefix}' is not a valid C identifier")
    code = build_model_code(graph, prefix, source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write_project(code, graph, target, staging)
        report = build_report(code, graph, target, source)
        write_report(report, staging)
        metadata = {
            "edgec_version": __version__,
            "target": target.name,
            "prefix": prefix,
            "model": source.name if source else None,
            "inputs": [_port_json(p) for p in code.boundary.inputs],
            "outputs": [_port_json(p) for p in code.boundary.outputs],
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _port_json(port) -> dict:
    return {"name": port.name, "dtype": port.io_dtype, "shape": list(port.shape)}


def _check_output_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is not an earlier edgec output."""
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgecError(f"--output {out_dir} exists and is not a folder: choose another path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / METADATA_FILE).is_file():
        raise EdgecError(
            f"--output {out_dir} is a non-empty folder that edgec did not generate: "
            "choose an empty or new folder"
        )
