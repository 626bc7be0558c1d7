"""Kernel variants for the DSP extension (Armv7E-M and Armv8-M Mainline: Cortex-M4, M7, M33,
M55): 16-bit SIMD multiply-accumulate through the ACLE intrinsics of arm_acle.h.

Each ``register(Variant(...))`` names its C file runtime_c/kernels/dsp/<name>.c; see
``edgec.lower.variants`` for the contract. Registration order is priority order.
"""

from __future__ import annotations

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
    register,
    same_shape_inputs,
)

# --- fully connected -------------------------------------------------------------------

# Output channels per pass of fully_connected_s8_dsp.c (its FC_BLOCK), and per batch of
# accumulators kept in scratch (its FC_CHUNK).
FC_BLOCK = 4
FC_CHUNK = 64


def _padded_depth(depth: int) -> int:
    """Round the depth up to a multiple of 16: the kernel's loop takes 16 values a turn."""
    return -(-depth // 16) * 16


def arrange_fully_connected_filter(node: Node, graph: Graph) -> np.ndarray:
    """Arrange the filter for fully_connected_s8_dsp: depth padded to a multiple of 16 with
    zeros, then per block of FC_BLOCK channels, per group of 4 depth values, the 4 weights
    of each channel of the block."""
    weights = graph.tensors[node.inputs[1]].data
    channels, depth = weights.shape
    padded = np.zeros((channels, _padded_depth(depth)), dtype=np.int8)
    padded[:, :depth] = weights
    blocks = []
    for first in range(0, channels, FC_BLOCK):
        block = padded[first : first + FC_BLOCK]
        blocks.append(block.reshape(len(block), -1, 4).transpose(1, 0, 2).ravel())
    return np.concatenate(blocks)


def fully_connected_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes: one input row widened to int16 (2 bytes per padded depth
    value), then the int32 accumulators of up to FC_CHUNK output channels."""
    channels, depth = graph.tensors[node.inputs[1]].shape
    return 2 * _padded_depth(depth) + 4 * min(channels, FC_CHUNK)


register(Variant(
    "fully_connected_s8_dsp", "dsp", ("fully_connected",), (int8_output, *FOLDED_INT8),
    arrange_filter=arrange_fully_connected_filter, folds_input_offset=True,
    scratch_bytes=fully_connected_scratch,
))


# --- convolution (conv2d_s8_1x1_dsp.c, conv2d_s8_dsp.c, edgec/dsp_conv_core.h) ---------
#
# Both kernels multiply each output channel's filter row with the int16 im2col columns of
# 4 output pixels. The row has the channel's taps in OHWI order, padded to a multiple of 4
# with zeros. Scratch contains a 24-byte requantization record per output channel and the
# columns (4 pixels x 2 bytes per padded tap). Then come a buffer of 4 output pixels for
# the last block of a call, and a staging row of one pixel's int8 taps (padded taps + 4
# bytes).

CONV_BLOCK_PIXELS = 4
CONV_CHANNEL_RECORD_BYTES = 24


def _conv_taps(node: Node, graph: Graph) -> int:
    """Return the taps per output channel: filter_h * filter_w * input depth."""
    shape = graph.tensors[node.inputs[1]].shape
    return int(shape[1] * shape[2] * shape[3])


def _padded_taps(taps: int) -> int:
    return -(-taps // 4) * 4


def arrange_conv_filter(node: Node, graph: Graph) -> np.ndarray:
    """Return the OHWI filter as one row per output channel, zero-padded to 4n taps."""
    weights = graph.tensors[node.inputs[1]].data
    rows = weights.reshape(weights.shape[0], -1)
    arranged = np.zeros((rows.shape[0], _padded_taps(rows.shape[1])), dtype=np.int8)
    arranged[:, : rows.shape[1]] = rows
    return arranged.ravel()


def conv_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of the node, as dsp_conv_scratch_bytes in C computes them."""
    channels = graph.tensors[node.inputs[1]].shape[0]
    padded = _padded_taps(_conv_taps(node, graph))
    return (channels * CONV_CHANNEL_RECORD_BYTES + CONV_BLOCK_PIXELS * 2 * padded
            + CONV_BLOCK_PIXELS * channels + padded + 4)


# Both read every input value of a block of 4 output pixels into scratch before they write
# the block, and go through the pixels in order: the output may overlap the input.
register(Variant(
    "conv2d_s8_1x1_dsp", "dsp", ("conv2d",), (*FOLDED_INT8, kernel_1x1, no_padding),
    arrange_filter=arrange_conv_filter, folds_input_offset=True, scratch_bytes=conv_scratch,
    in_place=True,
))

register(Variant(
    "conv2d_s8_dsp", "dsp", ("conv2d",), FOLDED_INT8,
    arrange_filter=arrange_conv_filter, folds_input_offset=True, scratch_bytes=conv_scratch,
    in_place=True,
))


# --- depthwise convolution, pooling, add ------------------------------------------------
#
# Both depthwise kernels read their filter as int16 pairs of doubled weights, because their
# requantization (edgec/dsp_dw_requantize.h) expects accumulators of twice the sum. depthwise_conv2d_s8_3x3_dsp.c keeps a ring of 3 input rows in scratch, widened
# to int16 pairs of neighbouring columns; depthwise_conv2d_s8_dsp.c lists each output
# pixel's taps there.

# Bytes of one group of 4 channels in both depthwise kernels' scratch: 4 doubled biases
# and 4 requantization records of 12 bytes (their group_block).
DW_GROUP_BLOCK_BYTES = 64
# Bytes of one pair column of depthwise_conv2d_s8_3x3_dsp.c's ring, per group: 3 ring rows
# x 4 channels x one int16 pair.
DW3X3_PAIR_COLUMN_BYTES = 48


def _channel_groups(channels: int) -> int:
    return -(-channels // 4)


def arrange_depthwise_3x3_filter(node: Node, graph: Graph) -> np.ndarray:
    """Return the filter of depthwise_conv2d_s8_3x3_dsp: doubled weights as int16 pairs.

    Per group of 4 channels, per half (c0, c2) then (c1, c3), per filter row: the words
    (w0, w1) of the half's first channel, (w0, w1) of its second, then (w1, w2) of each.
    Channels past the last are zero.
    """
    weights = graph.tensors[node.inputs[1]].data[0].astype(np.int16)  # (3, 3, C)
    channels = weights.shape[2]
    groups = _channel_groups(channels)
    doubled = np.zeros((4 * groups, 3, 3), dtype=np.int16)
    doubled[:channels] = 2 * weights.transpose(2, 0, 1)
    first = 4 * np.arange(groups)[:, None] + np.arange(2)[None, :]  # (G, 2): c0, c1
    rows_a, rows_b = doubled[first], doubled[first + 2]  # (G, 2, 3 rows, 3 taps)
    words = np.stack(
        [rows_a[..., 0:2], rows_b[..., 0:2], rows_a[..., 1:3], rows_b[..., 1:3]], axis=3
    )  # (G, 2 halves, 3 rows, 4 words, 2 int16)
    return np.ascontiguousarray(words, dtype="<i2").view(np.int8).ravel()


def depthwise_3x3_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of depthwise_conv2d_s8_3x3_dsp: group blocks, the
    zero-point pixel (4 bytes per group) and the ring of 3 input rows in pair columns."""
    groups = _channel_groups(graph.tensors[node.inputs[1]].shape[3])
    output_w = graph.tensors[node.outputs[0]].shape[2]
    stride_w = node.attrs.get("strides", (1, 1))[1]
    pair_columns = ((output_w - 1) * stride_w + 2) // 2 + 1
    return groups * (DW_GROUP_BLOCK_BYTES + 4 + pair_columns * DW3X3_PAIR_COLUMN_BYTES)


register(Variant(
    "depthwise_conv2d_s8_3x3_dsp", "dsp", ("depthwise_conv2d",),
    (*FOLDED_INT8, kernel_3x3, depth_multiplier_1, no_dilation),
    arrange_filter=arrange_depthwise_3x3_filter, folds_input_offset=True,
    scratch_bytes=depthwise_3x3_scratch,
))


def arrange_depthwise_filter(node: Node, graph: Graph) -> np.ndarray:
    """Return the filter of depthwise_conv2d_s8_dsp: doubled weights as int16 pairs.

    Per group of 4 output channels, per tap (row-major): the words (w0, w2) and (w1, w3) of
    the group's channels. Channels past the last are zero.
    """
    weights = graph.tensors[node.inputs[1]].data[0].astype(np.int16)  # (kh, kw, C * M)
    channels = weights.shape[2]
    groups = _channel_groups(channels)
    doubled = np.zeros((weights.shape[0] * weights.shape[1], 4 * groups), dtype=np.int16)
    doubled[:, :channels] = 2 * weights.reshape(-1, channels)
    lanes = doubled.reshape(-1, groups, 4)[:, :, [0, 2, 1, 3]]  # (taps, G, 4)
    return np.ascontiguousarray(lanes.transpose(1, 0, 2), dtype="<i2").view(np.int8).ravel()


def depthwise_scratch(node: Node, graph: Graph) -> int:
    """Return the scratch bytes of depthwise_conv2d_s8_dsp: group blocks, the zero-point
    pixel (input channels rounded up to 4 bytes), one 4-byte pointer per tap and, with a
    depth multiplier above 1, the expanded taps (4 bytes per group and tap)."""
    filter_shape = graph.tensors[node.inputs[1]].shape
    input_channels = graph.tensors[node.inputs[0]].shape[3]
    groups = _channel_groups(filter_shape[3])
    taps = filter_shape[1] * filter_shape[2]
    expanded = 4 * groups * taps if filter_shape[3] > input_channels else 0
    return (groups * DW_GROUP_BLOCK_BYTES + 4 * _channel_groups(input_channels) + 4 * taps
            + expanded)


register(Variant(
    "depthwise_conv2d_s8_dsp", "dsp", ("depthwise_conv2d",), FOLDED_INT8,
    arrange_filter=arrange_depthwise_filter, folds_input_offset=True,
    scratch_bytes=depthwise_scratch,
))


# Pooling runs 4 or 8 channels per step on the reference kernels' data layout: no filter,
# no scratch. add_s8_dsp.c tabulates its two inputs in scratch (2 x 256 int32, 2 KB) for
# tensors of ADD_TABLE_MIN_SIZE elements or more (its TABLE_MIN_SIZE).
ADD_TABLE_MIN_SIZE = 64
ADD_TABLE_BYTES = 2 * 256 * 4


def add_scratch(node: Node, graph: Graph) -> int:
    """Return the bytes of add_s8_dsp's two input tables, for outputs large enough to use
    them (0 otherwise)."""
    return ADD_TABLE_BYTES if graph.tensors[node.outputs[0]].size >= ADD_TABLE_MIN_SIZE else 0


register(Variant("max_pool2d_s8_dsp", "dsp", ("max_pool2d",), (int8_activations,)))

register(Variant("avg_pool2d_s8_dsp", "dsp", ("average_pool2d",), (int8_activations,)))

register(Variant(
    "add_s8_dsp", "dsp", ("add", "sub"), (int8_output, int8_activations, same_shape_inputs),
    scratch_bytes=add_scratch,
))
