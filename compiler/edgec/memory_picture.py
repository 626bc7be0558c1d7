"""The memory picture (memory.svg) written next to report.md by ``edgec compile``.

Layers (execution steps) run along the x axis and arena offsets in bytes up the y axis,
offset 0 at the bottom. Every planned arena entry (tensor or ``scratch:<step>`` buffer) is
one ``<rect class="tensor">`` spanning its lifetime and its byte range. The rectangle
carries a short id (T0, T1, ...) and a ``<title>`` tooltip with name, bytes, offset and
lifetime, and a legend under the plot repeats that line per id, for viewers that show no
tooltips. A dashed line marks the arena size and a band marks the report's peak layer.

The SVG is written by hand, without a plotting library. The output is deterministic: the
same plan and report give byte-identical files, because entries are drawn in the sorted
order of ``edgec.report.planned_entries`` and every coordinate is printed with one decimal.
Model-supplied names are XML-escaped, and characters that XML 1.0 forbids are dropped.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.sax.saxutils import escape

from edgec.report import PICTURE_FILE, SCRATCH_PREFIX, planned_entries

LEFT, RIGHT, TOP, BOTTOM = 96, 24, 56, 64  # margins around the plot, in pixels
PLOT_HEIGHT = 420
STEP_WIDTH = 36  # pixels per layer, within the bounds below
MIN_PLOT_WIDTH, MAX_PLOT_WIDTH = 560, 1400
HEADROOM = 1.06  # the y axis ends a little above the arena size
CHAR_WIDTH = 6.6  # approximate width of an 11 px monospace character
TITLE_CHAR_WIDTH = 7.8  # the same for the 13 px title
LINE_HEIGHT = 14  # legend lines
MAX_X_LABELS = 30
Y_TICKS = 6
# Fill colours of tensors, cycled in drawing order. Scratch buffers are grey.
PALETTE = (
    "#8dd3c7",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
)
SCRATCH_FILL = "#d9d9d9"
PEAK_COLOUR = "#d62728"
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def write_memory_picture(plan, report: dict, out_dir: Path) -> Path:
    """Write memory.svg for ``plan`` into ``out_dir`` and return its path."""
    path = out_dir / PICTURE_FILE
    path.write_text(render_memory_svg(plan, report))
    return path


def render_memory_svg(plan, report: dict) -> str:
    """Return the SVG text of the picture of ``plan``, with layer names and peak from ``report``."""
    layers = [layer["name"] for layer in report["layers"]]
    entries = planned_entries(plan)
    steps = max([len(layers)] + [e["last_layer"] + 1 for e in entries] + [1])
    top_bytes = max([plan.arena_bytes] + [e["arena_offset"] + e["bytes"] for e in entries] + [1])
    title = (
        f"Arena of {report['model'] or 'the model'} for {report['target']}: "
        f"{plan.arena_bytes:,} bytes, {len(entries)} planned entries"
    )
    frame = _Frame(
        steps,
        top_bytes * HEADROOM,
        math.ceil(len(title) * TITLE_CHAR_WIDTH),
        legend_lines=len(entries),
    )

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" '
            f'height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" '
            'font-family="monospace" font-size="11">'
        ),
        f'<rect x="0" y="0" width="{frame.width}" height="{frame.height}" fill="white"/>',
        _text(LEFT, 24, title, size=13),
    ]
    parts += _axes(frame, layers)
    parts += _peak_marker(frame, report["totals"].get("peak_layer"))
    for index, entry in enumerate(entries):
        parts.append(_entry_rect(frame, entry, index, layers))
    for index, entry in enumerate(entries):
        parts += _entry_id(frame, entry, index)
    parts += _arena_line(frame, plan.arena_bytes)
    if entries:
        parts += _legend(frame, entries, layers)
    else:
        parts.append(
            _text(
                LEFT + 12,
                TOP + PLOT_HEIGHT / 2,
                "no intermediate tensors: every layer reads and writes the caller's buffers",
            )
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class _Frame:
    """Picture size, and the map from steps and byte offsets to pixel coordinates."""

    def __init__(self, steps: int, y_max: float, title_width: int, legend_lines: int):
        self.steps = steps
        self.y_max = y_max
        self.plot_width = min(max(steps * STEP_WIDTH, MIN_PLOT_WIDTH), MAX_PLOT_WIDTH)
        self.width = LEFT + max(self.plot_width, title_width) + RIGHT
        self.legend_top = TOP + PLOT_HEIGHT + BOTTOM
        self.height = self.legend_top + legend_lines * LINE_HEIGHT + 8

    def x(self, step: float) -> float:
        return LEFT + step * self.plot_width / self.steps

    def y(self, offset: float) -> float:
        return TOP + PLOT_HEIGHT - offset * PLOT_HEIGHT / self.y_max


def _axes(frame: _Frame, layers: list[str]) -> list[str]:
    bottom, right = TOP + PLOT_HEIGHT, LEFT + frame.plot_width
    parts = [
        (
            f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" '
            'stroke="black"/>'
        ),
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="black"/>',
    ]
    every = max(1, math.ceil(frame.steps / MAX_X_LABELS))
    for step in range(0, frame.steps, every):
        x = frame.x(step + 0.5)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="black"/>'
        )
        parts.append(
            _text(x, bottom + 16, str(step), anchor="middle", tooltip=_layer_text(step, layers))
        )
    for value in _y_ticks(frame.y_max):
        y = frame.y(value)
        parts.append(
            f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="black"/>'
        )
        parts.append(_text(LEFT - 8, y + 4, f"{value:,}", anchor="end"))
    parts.append(
        _text(LEFT + frame.plot_width / 2, bottom + 40, "layer (execution step)", anchor="middle")
    )
    middle = f"{TOP + PLOT_HEIGHT / 2:.1f}"
    parts.append(
        f'<text x="16" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 16 {middle})">arena offset (bytes)</text>'
    )
    return parts


def _y_ticks(y_max: float) -> list[int]:
    """Round tick values (1, 2 or 5 times a power of ten) from 0 up to ``y_max``."""
    raw = max(y_max / Y_TICKS, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return list(range(0, int(y_max) + 1, int(step)))


def _peak_marker(frame: _Frame, peak: dict | None) -> list[str]:
    if not peak:
        return []
    left, right = frame.x(peak["index"]), frame.x(peak["index"] + 1)
    label = f"peak: layer {peak['index']}, {peak['live_arena_bytes']:,} arena bytes in use"
    tooltip = f"{label} ({peak['name']})"
    anchor = "end" if left > LEFT + frame.plot_width / 2 else "start"
    return [
        (
            f'<rect class="peak" x="{left:.1f}" y="{TOP}" width="{right - left:.1f}" '
            f'height="{PLOT_HEIGHT}" fill="#ffe8e8" stroke="{PEAK_COLOUR}" '
            f'stroke-dasharray="3 2"><title>{_xml(tooltip)}</title></rect>'
        ),
        _text(right if anchor == "end" else left, TOP - 6, label, anchor=anchor, fill=PEAK_COLOUR),
    ]


def _entry_box(frame: _Frame, entry: dict) -> tuple[float, float, float, float]:
    """Return (x, y, width, height) of an entry's rectangle, at least 1 pixel high."""
    left, right = frame.x(entry["first_layer"]), frame.x(entry["last_layer"] + 1)
    low, high = frame.y(entry["arena_offset"]), frame.y(entry["arena_offset"] + entry["bytes"])
    height = max(low - high, 1.0)
    return left, low - height, right - left, height


def _entry_rect(frame: _Frame, entry: dict, index: int, layers: list[str]) -> str:
    x, y, width, height = _entry_box(frame, entry)
    scratch = entry["name"].startswith(SCRATCH_PREFIX)
    fill = SCRATCH_FILL if scratch else PALETTE[index % len(PALETTE)]
    css = "tensor scratch" if scratch else "tensor"
    return (
        f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{fill}" fill-opacity="0.85" stroke="#333333" '
        f'stroke-width="0.5"><title>{_xml(_describe(entry, index, layers))}</title></rect>'
    )


def _entry_id(frame: _Frame, entry: dict, index: int) -> list[str]:
    """Return the id T<index> as text inside the entry's rectangle, or nothing if it does not fit.

    The id fits in the column of the layer that writes the entry. Entries written by the
    same layer do not share bytes, so two ids never overprint each other.
    """
    x, y, _, height = _entry_box(frame, entry)
    label = f"T{index}"
    if height < 13 or frame.x(1) - frame.x(0) < len(label) * CHAR_WIDTH + 4:
        return []
    return [_text(x + 2, y + height / 2 + 4, label)]


def _legend(frame: _Frame, entries: list[dict], layers: list[str]) -> list[str]:
    room = int((frame.width - LEFT - RIGHT) / CHAR_WIDTH)
    parts = []
    for index, entry in enumerate(entries):
        line = _describe(entry, index, layers)
        if len(line) > room:
            line = line[: room - 3] + "..."
        parts.append(_text(LEFT, frame.legend_top + index * LINE_HEIGHT, line))
    return parts


def _describe(entry: dict, index: int, layers: list[str]) -> str:
    first, last = entry["first_layer"], entry["last_layer"]
    lifetime = f"layer {first}" if first == last else f"layers {first}-{last}"
    role = IO_ROLES.get(entry["name"], f"written by {_layer_text(first, layers)}")
    return (
        f"T{index}: {entry['bytes']:,} bytes at offset {entry['arena_offset']:,}, live in "
        f"{lifetime}, {entry['name']} ({role})"
    )


# Arena entries that no layer writes: the int8 I/O of model_invoke_io().
IO_ROLES = {
    "io:input": "the int8 model input, model_input_buffer()",
    "io:output": "the int8 model output, model_output_buffer()",
}


def _layer_text(step: int, layers: list[str]) -> str:
    return f"layer {step} '{layers[step]}'" if step < len(layers) else f"step {step}"


def _arena_line(frame: _Frame, arena_bytes: int) -> list[str]:
    y = frame.y(arena_bytes)
    right = LEFT + frame.plot_width
    return [
        (
            f'<line class="arena" x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
            f'stroke="{PEAK_COLOUR}" stroke-width="1.5" stroke-dasharray="6 3"/>'
        ),
        _text(
            right - 4, y - 4, f"arena size {arena_bytes:,} bytes", anchor="end", fill=PEAK_COLOUR
        ),
    ]


def _text(
    x: float,
    y: float,
    text: str,
    anchor: str = "start",
    size: int | None = None,
    fill: str | None = None,
    tooltip: str | None = None,
) -> str:
    attributes = f'x="{x:.1f}" y="{y:.1f}"'
    if anchor != "start":
        attributes += f' text-anchor="{anchor}"'
    if size is not None:
        attributes += f' font-size="{size}"'
    if fill is not None:
        attributes += f' fill="{fill}"'
    body = _xml(text)
    if tooltip is not None:
        body += f"<title>{_xml(tooltip)}</title>"
    return f"<text {attributes}>{body}</text>"


def _xml(text: str) -> str:
    """Escape ``text`` for XML character data, dropping characters XML 1.0 forbids."""
    return escape(_INVALID_XML.sub("", str(text)))
