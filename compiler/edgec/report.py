"""The footprint report written next to a generated project (report.json, report.md).

Per layer: op, kernel, MACs, weight bytes, output bytes and arena offset. Totals: MACs,
weight bytes (constant tensors and per-channel parameters, i.e. what goes to flash besides
code) and the arena size.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgec import __version__
from edgec.ir import Graph
from edgec.targets import Target


def build_report(code, graph: Graph, target: Target, source: Path | None) -> dict:
    layers = []
    for call, node in zip(code.calls, code.boundary.core_nodes):
        weights = sum(graph.tensors[n].nbytes for n in node.inputs if n and graph.tensors[n].is_constant)
        out = node.outputs[0]
        layers.append({
            "name": node.name,
            "op": node.op,
            "kernel": call.function,
            "macs": call.macs,
            "weight_bytes": weights,
            "output_bytes": graph.tensors[out].nbytes,
            "arena_offset": code.plan.offsets.get(out),
        })
    weight_bytes = sum(a.values.size * _itemsize(a.ctype) for a in code.arrays)
    return {
        "edgec_version": __version__,
        "model": source.name if source else None,
        "target": target.name,
        "layers": layers,
        "totals": {
            "macs": sum(layer["macs"] for layer in layers),
            "weight_bytes": weight_bytes,
            "arena_bytes": code.plan.arena_bytes,
        },
    }


def _itemsize(ctype: str) -> int:
    return {"int8_t": 1, "int16_t": 2, "int32_t": 4, "float": 4}[ctype]


def write_report(report: dict, out_dir: Path) -> None:
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# edgec report: {report['model']} for {report['target']}",
        "",
        "| # | layer | op | kernel | MACs | weight bytes | output bytes | arena offset |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for i, layer in enumerate(report["layers"]):
        offset = "-" if layer["arena_offset"] is None else layer["arena_offset"]
        lines.append(
            f"| {i} | {layer['name']} | {layer['op']} | {layer['kernel']} | {layer['macs']} | "
            f"{layer['weight_bytes']} | {layer['output_bytes']} | {offset} |"
        )
    totals = report["totals"]
    lines += [
        "",
        f"Total MACs: {totals['macs']}  ",
        f"Weights and constant parameters: {totals['weight_bytes']} bytes  ",
        f"Arena: {totals['arena_bytes']} bytes",
        "",
        "An arena offset of '-' means the layer writes the caller's output buffer directly.",
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines))
