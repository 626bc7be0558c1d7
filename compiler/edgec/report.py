"""The footprint report written next to a generated project (report.json, report.md).

Built by ``edgec.pipeline.generate`` from the lowered calls and the memory plan, before any
file is written, so that ``edgec.fit.check_fit`` can reject a model that does not fit.

Per layer (one kernel call of ``model_invoke``, in execution order): op, kernel, MACs,
weight bytes (its constant inputs, such as weights and bias), input and output bytes, arena
offsets of its inputs and output, scratch bytes, and two views of the arena at that step:

- ``live_arena_bytes``: the bytes in use at the step, i.e. the union of the byte ranges of
  the planned entries whose lifetime covers it. Bytes that entries share (a reshape view,
  an in-place output) count once.
- ``arena_extent_bytes``: the highest end offset (offset + size) of those entries, that is,
  the part of the arena from offset 0 that the step needs. It never exceeds ``arena_bytes``.

The peak layer is the first layer with the largest ``live_arena_bytes``. Totals: MACs,
weight bytes (every array of <prefix>_weights.c: weights, bias, multipliers, shifts and
shape tables, each constant once; int4 weights count their packed bytes and their group
multipliers), parameter bytes, arena, I/O, and the flash, RAM, code
and stack estimates of ``edgec.fit``. The code and stack figures are estimates, and
``edgec bench DIR`` measures the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgec import __version__, fit
from edgec.fit import BoardLimits
from edgec.ir import Graph
from edgec.targets import Target

SCRATCH_PREFIX = "scratch:"
PICTURE_FILE = "memory.svg"
ESTIMATE_NOTE = (
    "code_bytes_estimate and stack_bytes_estimate (and so flash_bytes_estimate and "
    "ram_bytes_estimate) are estimates from sizes measured on the Cortex-M4 reference kernels; "
    "`edgec bench DIR` measures the real flash, RAM and stack of the built project"
)


def planned_entries(plan) -> list[dict]:
    """Return every planned arena entry (tensors and scratch buffers) in execution order.

    Each entry has ``name``, ``bytes``, ``arena_offset``, ``first_layer`` and ``last_layer``
    (step indices, both inclusive). A ``scratch:<step>`` entry without a lifetime lives
    during its own step.
    """
    entries = []
    for name, offset in plan.offsets.items():
        first, last = plan.lifetimes.get(name) or _scratch_lifetime(name)
        entries.append(
            {
                "name": name,
                "bytes": plan.sizes[name],
                "arena_offset": offset,
                "first_layer": first,
                "last_layer": last,
            }
        )
    return sorted(entries, key=lambda e: (e["first_layer"], e["arena_offset"], e["name"]))


def _scratch_lifetime(name: str) -> tuple[int, int]:
    if not name.startswith(SCRATCH_PREFIX):
        raise ValueError(f"planned tensor '{name}' has an arena offset but no lifetime")
    step = int(name[len(SCRATCH_PREFIX) :])
    return step, step


def arena_usage(entries: list[dict], step: int) -> tuple[int, int]:
    """Return (live bytes, extent bytes) of the arena at ``step``, as the module doc defines."""
    live = [e for e in entries if e["first_layer"] <= step <= e["last_layer"]]
    ranges = sorted((e["arena_offset"], e["arena_offset"] + e["bytes"]) for e in live)
    live_bytes, covered = 0, 0  # bytes of the union of the ranges, and its end so far
    for start, end in ranges:
        live_bytes += max(0, end - max(start, covered))
        covered = max(covered, end)
    return live_bytes, covered


def build_report(
    code,
    graph: Graph,
    target: Target,
    source: Path | None,
    limits: BoardLimits | None = None,
) -> dict:
    """Build the report of one generated model.

    ``limits`` are the flash and RAM limits the model is checked against. When it is None,
    the report shows the target's own board.
    """
    plan = code.plan
    entries = planned_entries(plan)
    layers = [
        _layer_json(index, call, node, graph, plan, entries)
        for index, (call, node) in enumerate(zip(code.calls, code.boundary.core_nodes))
    ]
    for entry in entries:
        entry["first_layer_name"] = _layer_name(layers, entry["first_layer"])
        entry["last_layer_name"] = _layer_name(layers, entry["last_layer"])

    totals = _totals(code, target, layers)
    if limits is None:
        limits = fit.board_limits(target)
    return {
        "edgec_version": __version__,
        "model": source.name if source else None,
        "target": target.name,
        "layers": layers,
        "tensors": entries,
        "totals": totals,
        "estimates": {
            "note": ESTIMATE_NOTE,
            "code_bytes": fit.code_estimate(code, target),
            "stack_bytes": fit.stack_estimate(code, target),
        },
        "board": _board_json(limits, totals),
        "memory_picture": PICTURE_FILE,
    }


def _layer_json(index, call, node, graph: Graph, plan, entries) -> dict:
    tensors = graph.tensors
    inputs = [name for name in node.inputs if name]
    activations = [name for name in inputs if not tensors[name].is_constant]
    live, extent = arena_usage(entries, index)
    return {
        "name": node.name,
        "op": node.op,
        "kernel": call.function,
        # The optimized variant chosen for the layer ("" for the reference kernel) and
        # the predicates that allowed it.
        "variant": call.variant,
        "variant_predicates": list(call.reason),
        # For a reference kernel: why each variant of the op on the target did not apply.
        "variant_rejected": list(call.rejected),
        "macs": call.macs,
        "weight_bytes": sum(
            fit.constant_bytes(tensors[n]) for n in inputs if tensors[n].is_constant
        ),
        "input_bytes": sum(tensors[n].nbytes for n in activations),
        "output_bytes": sum(tensors[n].nbytes for n in node.outputs),
        "inputs": inputs,
        "input_offsets": [plan.offsets.get(name) for name in inputs],
        "output": node.outputs[0],
        # The output's offset, or None when the layer writes the caller's output buffer.
        "arena_offset": plan.offsets.get(node.outputs[0]),
        "scratch_bytes": plan.sizes.get(f"{SCRATCH_PREFIX}{index}", 0),
        "live_arena_bytes": live,
        "arena_extent_bytes": extent,
    }


def _layer_name(layers: list[dict], index: int) -> str:
    return layers[index]["name"] if 0 <= index < len(layers) else f"step {index}"


def _totals(code, target: Target, layers: list[dict]) -> dict:
    weights = fit.weight_bytes(code)
    params = fit.param_bytes(code, target)
    code_bytes = fit.code_estimate(code, target)["total"]
    stack = fit.stack_estimate(code, target)["total"]
    io_bytes = _io_bytes(code)
    peak = None
    if layers:
        index = max(range(len(layers)), key=lambda i: (layers[i]["live_arena_bytes"], -i))
        peak = {
            "index": index,
            "name": layers[index]["name"],
            "arena_extent_bytes": layers[index]["arena_extent_bytes"],
            "live_arena_bytes": layers[index]["live_arena_bytes"],
        }
    return {
        "macs": sum(layer["macs"] for layer in layers),
        "weight_bytes": weights,
        "param_bytes": params,
        "arena_bytes": code.plan.arena_bytes,
        "io_bytes": io_bytes,
        "code_bytes_estimate": code_bytes,
        "flash_bytes_estimate": weights + params + code_bytes,
        "stack_bytes_estimate": stack,
        "ram_bytes_estimate": code.plan.arena_bytes + io_bytes + stack,
        "peak_layer": peak,
    }


def _io_bytes(code) -> int:
    """RAM for I/O outside the arena: the buffers the caller passes to <prefix>_invoke_io()
    in the model's I/O dtypes, plus static integer copies when they are not in the arena."""
    ports = code.boundary.inputs + code.boundary.outputs
    caller = sum(p.io_bytes for p in ports)
    static = sum(p.size for p in ports) if code.has_float_io and not code.io_offsets else 0
    return caller + static


def _board_json(limits: BoardLimits | None, totals: dict) -> dict | None:
    if limits is None:
        return None
    return {
        "name": limits.name,
        "flash_bytes": limits.flash_bytes,
        "ram_bytes": limits.ram_bytes,
        "flash_used_percent": _percent(totals["flash_bytes_estimate"], limits.flash_bytes),
        "ram_used_percent": _percent(totals["ram_bytes_estimate"], limits.ram_bytes),
        "flash_from_option": limits.flash_from_option,
        "ram_from_option": limits.ram_from_option,
    }


def _percent(used: int, limit: int | None) -> float | None:
    return None if limit is None else round(100.0 * used / limit, 1)


def write_report(report: dict, out_dir: Path) -> None:
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(render_markdown(report))


def render_markdown(report: dict) -> str:
    """Render the readable report: per-layer table, totals, board, and the picture link."""
    lines = [f"# edgec report: {report['model']} for {report['target']}", ""]
    lines += _layer_table(report["layers"])
    lines += _totals_lines(report["totals"])
    lines += _board_lines(report["board"], report["totals"])
    lines += [
        "## Memory picture",
        "",
        (
            f"[{report['memory_picture']}]({report['memory_picture']}) shows every arena entry "
            "as a rectangle: layers on the x axis, arena offsets on the y axis."
        ),
        "",
    ]
    return "\n".join(lines)


def _layer_table(layers: list[dict]) -> list[str]:
    lines = [
        (
            "| # | layer | op | kernel | MACs | weight bytes | input bytes | output bytes | "
            "input offsets | output offset | scratch bytes | live arena bytes | "
            "arena extent bytes |"
        ),
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, layer in enumerate(layers):
        offsets = ", ".join(_offset_text(o) for o in layer["input_offsets"])
        lines.append(
            f"| {i} | {_cell(layer['name'])} | {layer['op']} | {layer['kernel'] or '(view)'} | "
            f"{layer['macs']:,} | {layer['weight_bytes']:,} | {layer['input_bytes']:,} | "
            f"{layer['output_bytes']:,} | {offsets} | {_offset_text(layer['arena_offset'])} | "
            f"{layer['scratch_bytes']:,} | {layer['live_arena_bytes']:,} | "
            f"{layer['arena_extent_bytes']:,} |"
        )
    lines += [
        "",
        (
            "An offset of '-' is a constant or a buffer of the caller (model input or output; "
            "model_invoke_io() passes the io:input and io:output entries of the arena). "
            "A layer's weight bytes are its constant inputs (weights, bias); the total also "
            "counts the requantization multipliers and shifts. "
            "Live arena bytes are the bytes in use at that layer; bytes that entries share "
            "(views, in-place outputs) count once. The arena extent is the highest end offset "
            "in use at that layer."
        ),
        "",
    ]
    return lines


def _totals_lines(totals: dict) -> list[str]:
    peak = totals["peak_layer"]
    peak_text = (
        f"layer {peak['index']} ('{_cell(peak['name'])}'), "
        f"{peak['live_arena_bytes']:,} arena bytes in use"
        if peak
        else "none (no layers)"
    )
    return [
        "## Totals",
        "",
        "| total | value |",
        "|---|---:|",
        f"| MACs | {totals['macs']:,} |",
        f"| weights and constant arrays (flash) | {totals['weight_bytes']:,} bytes |",
        (
            f"| kernel parameter structs and alignment padding (flash) | "
            f"{totals['param_bytes']:,} bytes |"
        ),
        f"| code (estimate) | {totals['code_bytes_estimate']:,} bytes |",
        f"| **flash (estimate)** | **{totals['flash_bytes_estimate']:,} bytes** |",
        f"| arena (RAM) | {totals['arena_bytes']:,} bytes |",
        f"| model input and output buffers (RAM) | {totals['io_bytes']:,} bytes |",
        f"| stack (estimate) | {totals['stack_bytes_estimate']:,} bytes |",
        f"| **RAM (estimate)** | **{totals['ram_bytes_estimate']:,} bytes** |",
        "",
        f"Peak memory layer: {peak_text}.",
        "",
        (
            "The code and stack figures are estimates from sizes measured on the Cortex-M4 "
            "reference kernels, so flash and RAM are estimates too. `edgec bench DIR` builds "
            "the project and measures the real figures."
        ),
        "",
    ]


def _board_lines(board: dict | None, totals: dict) -> list[str]:
    lines = ["## Board", ""]
    if board is None:
        return lines + ["No board limits for this target: the fit check did not run.", ""]
    lines += [
        f"{_cell(board['name'])}",
        "",
        "| memory | needed (estimate) | limit | used |",
        "|---|---:|---:|---:|",
    ]
    for label, key, option in (("flash", "flash", "--flash"), ("RAM", "ram", "--ram")):
        limit = board[f"{key}_bytes"]
        needed = f"{totals[f'{key}_bytes_estimate']:,}"
        if limit is None:
            lines.append(f"| {label} | {needed} | not set (not checked) | - |")
            continue
        source = f" (set by {option})" if board[f"{key}_from_option"] else ""
        lines.append(
            f"| {label} | {needed} | {limit:,}{source} | {board[f'{key}_used_percent']}% |"
        )
    return lines + [""]


def _offset_text(offset: int | None) -> str:
    return "-" if offset is None else f"{offset:,}"


def _cell(text: str) -> str:
    """Make ``text`` safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
