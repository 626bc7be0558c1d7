"""Kernel variants for Helium (MVE, Armv8.1-M: Cortex-M55): 128-bit vector instructions
through the intrinsics of arm_mve.h.

Each ``register(Variant(...))`` names its C file runtime_c/kernels/mve/<name>.c; see
``edgec.lower.variants`` for the contract. Registration order is priority order; on a
target with both "mve" and "dsp" the variants of this module are tried first.

The filter layouts below are the order in which the C kernels read the weights, so that
each 16-byte load feeds the next VMLADAV(A) without shuffles. The kernels' files and
runtime_c/include/edgec/mve_*.h describe the loops, and the constants mirrored here must
stay equal to theirs. Every layout pads with zero weights, which add nothing to the sums.
The scratch functions return the bytes that each kernel's scratch layout takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.ir import Graph, Node
from edgec.lower.variants import (
    FOLDED_INT8,
    Variant,
    depth_multiplier_1,
    int8_activations,
    int8_output,
    kernel_1x1,
    kernel_3x3,
    no_dilation,
    no_padding,
    predicate,
    register,
    same_shape_inputs,
)

# Bytes of one Helium vector: one step of the VMLADAVA reductions (EDGEC_MVE_STEP_BYTES).
VECTOR_BYTES = 16
# Output channels per block of the conv2d kernels (edgec_mve_dot_pair), of the fully
# connected kernel (edgec_mve_dot_single) and of the general depthwise kernel (int32 lanes).
CONV_BLOCK_CHANNELS = 4
FC_BLOCK_CHANNELS = 8
DEPTHWISE_BLOCK_CHANNELS = 4
# Bytes of the int32 sums that one block of the dot products writes (8 accumulators).
BLOCK_SUMS_BYTES = 8 * 4


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _filter(node: Node, graph: Graph) -> np.ndarray:
    return graph.tensors[node.inputs[1]].data


def _strides(node: Node) -> tuple[int, int]:
    return tuple(node.attrs.get("strides", (1, 1)))


# --- conv2d and fully connected: VMLADAVA blocks (mve_dot.h) ------------------------------


def _blocked_rows(rows: np.ndarray, block_channels: int) -> np.ndarray:
    """Arrange a [channels, K] int8 matrix as blocks of ``block_channels`` channels, each
    holding for every 16-byte step of K the 16 weights of each channel in turn. Channels
    and K are padded with zeros to whole blocks and steps."""
    channels, depth = rows.shape
    padded = np.zeros(
        (_round_up(channels, block_channels), _round_up(depth, VECTOR_BYTES)), dtype=np.int8
    )
    padded[:channels, :depth] = rows
    blocks = padded.reshape(padded.shape[0] // block_channels, block_channels, -1, VECTOR_BYTES)
    return np.ascontiguousarray(blocks.transpose(0, 2, 1, 3)).ravel()


def conv_filter(node: Node, graph: Graph) -> np.ndarray:
    """OHWI filter as 4-channel blocks over the (kh, kw, c) reduction (mve_conv.h)."""
    filt = _filter(node, graph)
    return _blocked_rows(filt.reshape(filt.shape[0], -1), CONV_BLOCK_CHANNELS)


def fully_connected_filter(node: Node, graph: Graph) -> np.ndarray:
    """[output_depth, input_depth] filter as 8-channel blocks over the input depth."""
    return _blocked_rows(_filter(node, graph), FC_BLOCK_CHANNELS)


def _conv_steps_bytes(node: Node, graph: Graph) -> int:
    """Bytes of one window's reduction vector rounded up to whole 16-byte steps."""
    shape = graph.tensors[node.inputs[1]].shape
    return _round_up(shape[1] * shape[2] * shape[3], VECTOR_BYTES)


def pointwise_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of conv2d_s8_1x1_mve: the sums of all channel blocks, then
    the input vectors of an output pixel pair in two interleaved columns (mve_conv.h)."""
    blocks = -(-graph.tensors[node.inputs[1]].shape[0] // CONV_BLOCK_CHANNELS)
    return blocks * BLOCK_SUMS_BYTES + 2 * _conv_steps_bytes(node, graph)


def conv_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of conv2d_s8_mve: pointwise_scratch's, plus two contiguous
    windows that it gathers windows of depths other than multiples of 16 into."""
    return pointwise_scratch(node, graph) + 2 * _conv_steps_bytes(node, graph)


def fully_connected_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of fully_connected_s8_mve: the sums of all channel blocks,
    then one input row padded to whole steps when the depth is not a multiple of 16."""
    channels, depth = graph.tensors[node.inputs[1]].shape
    row = 0 if depth % VECTOR_BYTES == 0 else _round_up(depth, VECTOR_BYTES)
    return -(-channels // FC_BLOCK_CHANNELS) * BLOCK_SUMS_BYTES + row


# --- 3x3 depthwise: gathered patches (depthwise_conv2d_s8_3x3_mve.c) ----------------------

# The constants PATCH_ROWS, STEP_ROWS, STEP_COLUMNS, BAND_OUTPUT_ROWS, MAX_GATHER_OFFSET
# and MAX_SCATTER_OFFSET of the C file: the rows of a patch, the output rows and columns
# of one step, and the maximum output rows of a band. The last two are the largest offsets
# of a gather (8 bits) and of the transposition's scatter of 8 channels (16 bits).
DEPTHWISE_PATCH_ROWS = 3
DEPTHWISE_STEP_ROWS = 2
DEPTHWISE_STEP_COLUMNS = 2
DEPTHWISE_BAND_OUTPUT_ROWS = 8
MAX_GATHER_OFFSET = 255
MAX_SCATTER_OFFSET = 65535


@dataclass(frozen=True)
class PatchShape:
    """The input patch (3 rows) that one gather loads, and the number of output windows
    side by side that it contains (patch_for in the C file)."""

    columns: int
    out_columns: int


def patch_shape(stride_w: int) -> PatchShape:
    """3 x (stride_w + 3) with two windows for stride_w <= 2, else 3x3 with one window."""
    if stride_w <= 2:
        return PatchShape(stride_w + 3, 2)
    return PatchShape(3, 1)


def _band_width(node: Node, graph: Graph) -> int:
    """Columns of one band row (band_width in the C file)."""
    stride_w = _strides(node)[1]
    out_w = graph.tensors[node.outputs[0]].shape[2]
    last_step = (out_w - 1) // DEPTHWISE_STEP_COLUMNS * DEPTHWISE_STEP_COLUMNS
    return (last_step + DEPTHWISE_STEP_COLUMNS - 1) * stride_w + 3


def _band_rows(node: Node, graph: Graph) -> int:
    """Input rows of one band (band_output_rows in the C file)."""
    out_h = graph.tensors[node.outputs[0]].shape[1]
    steps = max(-(-out_h // DEPTHWISE_STEP_ROWS), 1)
    band_out_rows = min(steps * DEPTHWISE_STEP_ROWS, DEPTHWISE_BAND_OUTPUT_ROWS)
    return (band_out_rows - 1) * _strides(node)[0] + DEPTHWISE_PATCH_ROWS


@predicate
def depthwise_patch_fits(node: Node, graph: Graph) -> bool:
    """Check that the 3x3 depthwise kernel's gather offsets fit in a byte (up to 125
    output columns at stride 1) and its band planes in the 16-bit offsets of its scatter."""
    patch = patch_shape(_strides(node)[1])
    width = _band_width(node, graph)
    plane_bytes = _band_rows(node, graph) * width
    return (
        (DEPTHWISE_PATCH_ROWS - 1) * width + patch.columns - 1 <= MAX_GATHER_OFFSET
        and plane_bytes <= MAX_SCATTER_OFFSET // 7
    )


def depthwise_3x3_filter(node: Node, graph: Graph) -> np.ndarray:
    """For each channel, one 16-byte vector per output window of a patch, left to right:
    the 3x3 kernel at that window's place in the patch (row-major lanes), zero elsewhere."""
    kernels = np.moveaxis(_filter(node, graph)[0], 2, 0)  # [channels, 3, 3]
    stride_w = _strides(node)[1]
    patch = patch_shape(stride_w)
    channels = kernels.shape[0]
    windows = np.zeros(
        (channels, patch.out_columns, DEPTHWISE_PATCH_ROWS, patch.columns), dtype=np.int8
    )
    for window in range(patch.out_columns):
        left = window * stride_w
        windows[:, window, :, left:left + 3] = kernels
    lanes = windows.reshape(channels, patch.out_columns, -1)
    vectors = np.zeros((channels, patch.out_columns, VECTOR_BYTES), dtype=np.int8)
    vectors[:, :, : lanes.shape[2]] = lanes
    return vectors.ravel()


def depthwise_3x3_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of one transposed band: a plane of band rows x band width
    bytes per channel."""
    channels = graph.tensors[node.inputs[0]].shape[3]
    return channels * _band_rows(node, graph) * _band_width(node, graph)


# --- any depthwise: padded rows (mve_depthwise.h) -----------------------------------------


def depthwise_filter(node: Node, graph: Graph) -> np.ndarray:
    """1HW(C*M) filter as blocks of 4 output channels, each holding for every tap in
    (kh, kw) order the 4 channels' weights."""
    filt = _filter(node, graph)
    taps = filt.shape[1] * filt.shape[2]
    channels = filt.shape[3]
    padded = np.zeros((taps, _round_up(channels, DEPTHWISE_BLOCK_CHANNELS)), dtype=np.int8)
    padded[:, :channels] = filt.reshape(taps, channels)
    blocks = padded.reshape(taps, -1, DEPTHWISE_BLOCK_CHANNELS).transpose(1, 0, 2)
    return np.ascontiguousarray(blocks).ravel()


def depthwise_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of one padded input row per filter row
    (edgec_mve_padded_row_columns)."""
    _, kernel_h, kernel_w, _ = graph.tensors[node.inputs[1]].shape
    depth = graph.tensors[node.inputs[0]].shape[3]
    out_w = graph.tensors[node.outputs[0]].shape[2]
    dilation_w = node.attrs.get("dilations", (1, 1))[1]
    last = (out_w - 1) * _strides(node)[1] + (kernel_w - 1) * dilation_w
    return kernel_h * max(last + 1, 1) * depth


# --- registration, in priority order ------------------------------------------------------

register(Variant(
    name="conv2d_s8_1x1_mve",
    isa="mve",
    ops=("conv2d",),
    predicates=FOLDED_INT8 + (kernel_1x1, no_padding),
    arrange_filter=conv_filter,
    folds_input_offset=True,
    scratch_bytes=pointwise_scratch,
))

register(Variant(
    name="conv2d_s8_mve",
    isa="mve",
    ops=("conv2d",),
    predicates=FOLDED_INT8,
    arrange_filter=conv_filter,
    folds_input_offset=True,
    scratch_bytes=conv_scratch,
))

register(Variant(
    name="depthwise_conv2d_s8_3x3_mve",
    isa="mve",
    ops=("depthwise_conv2d",),
    predicates=FOLDED_INT8
    + (kernel_3x3, depth_multiplier_1, no_dilation, depthwise_patch_fits),
    arrange_filter=depthwise_3x3_filter,
    folds_input_offset=True,
    scratch_bytes=depthwise_3x3_scratch,
))

register(Variant(
    name="depthwise_conv2d_s8_mve",
    isa="mve",
    ops=("depthwise_conv2d",),
    predicates=FOLDED_INT8,
    arrange_filter=depthwise_filter,
    folds_input_offset=True,
    scratch_bytes=depthwise_scratch,
))

register(Variant(
    name="fully_connected_s8_mve",
    isa="mve",
    ops=("fully_connected",),
    predicates=(int8_output, *FOLDED_INT8),
    arrange_filter=fully_connected_filter,
    folds_input_offset=True,
    scratch_bytes=fully_connected_scratch,
))

register(Variant(
    name="max_pool2d_s8_mve",
    isa="mve",
    ops=("max_pool2d",),
    predicates=(int8_activations,),
))

register(Variant(
    name="avg_pool2d_s8_mve",
    isa="mve",
    ops=("average_pool2d",),
    predicates=(int8_activations,),
))

register(Variant(
    name="add_s8_mve",
    isa="mve",
    ops=("add", "sub"),
    predicates=(int8_output, int8_activations, same_shape_inputs),
))
