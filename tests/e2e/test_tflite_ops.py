"""Single-operator int8 TFLite models against TFLite Micro, on host and the Cortex-M4.

The MLPerf Tiny models exercise only some ops and parameter combinations. These generated
models cover the rest: max pooling, mean, sub, mul, broadcasting, pad, concat, transpose,
requantization, dilation, stride 2 on even sizes, depthwise multipliers, and padding on the
zero point. Each is verified with `edgec verify`'s code path. The target's output must
equal edgec's reference interpreter and TFLite Micro bit for bit on 20 random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.BuiltinOperator import BuiltinOperator as B
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgec.verify import verify_model
from tests.tflite_builder import Op, T, act, const, write_model

RNG = np.random.default_rng(7)


def filters(name, shape, axis, scale=0.02):
    data = RNG.integers(-127, 128, size=shape)
    channels = shape[axis]
    scales = list(scale * (1 + RNG.random(channels)))
    return T(name, tuple(shape), TensorType.INT8, data, scales, [0] * channels, axis)


def bias(name, channels, input_scale, weight_scales):
    data = RNG.integers(-2000, 2000, size=channels)
    scales = [input_scale * s for s in weight_scales]
    return T(name, (channels,), TensorType.INT32, data, scales, [0] * channels)


def pool(code, padding, size, stride, activation=Act.NONE):
    options = {"padding": padding, "stride_w": stride, "stride_h": stride,
               "filter_width": size, "filter_height": size, "fused_activation_function": activation}
    tensors = [act("x", (1, 8, 8, 5), 0.1, -7), act("y", (1, 4, 4, 5), 0.1, -7)]
    return tensors, [Op(code, ["x"], ["y"], ("Pool2DOptions", options))]


def conv(stride, dilation, padding, out_hw):
    w = filters("w", (6, 3, 3, 4), 0)
    tensors = [act("x", (1, 8, 8, 4), 0.05, 11), w, bias("b", 6, 0.05, w.scale),
               act("y", (1, *out_hw, 6), 0.2, -20)]
    options = {"padding": padding, "stride_w": stride, "stride_h": stride,
               "dilation_w_factor": dilation, "dilation_h_factor": dilation,
               "fused_activation_function": Act.RELU}
    return tensors, [Op(B.CONV_2D, ["x", "w", "b"], ["y"], ("Conv2DOptions", options))]


def depthwise(multiplier, stride, dilation):
    channels = 3 * multiplier
    w = filters("w", (1, 3, 3, channels), 3)
    out = 4 if stride == 2 else 8
    tensors = [act("x", (1, 8, 8, 3), 0.05, -100), w, bias("b", channels, 0.05, w.scale),
               act("y", (1, out, out, channels), 0.15, 5)]
    options = {"padding": Padding.SAME, "stride_w": stride, "stride_h": stride,
               "depth_multiplier": multiplier, "dilation_w_factor": dilation,
               "dilation_h_factor": dilation, "fused_activation_function": Act.RELU6}
    return tensors, [Op(B.DEPTHWISE_CONV_2D, ["x", "w", "b"], ["y"],
                        ("DepthwiseConv2DOptions", options))]


def fully_connected():
    w = filters("w", (7, 12), 0, 0.01)
    w.scale, w.zero_point = [0.015], [0]  # TFLite Micro takes per-tensor FC weights
    tensors = [act("x", (3, 12), 0.07, 9), w, bias("b", 7, 0.07, [0.015] * 7),
               act("y", (3, 7), 0.3, -4)]
    options = {"fused_activation_function": Act.NONE}
    return tensors, [Op(B.FULLY_CONNECTED, ["x", "w", "b"], ["y"],
                        ("FullyConnectedOptions", options))]


def elementwise(code, options_name, second_shape):
    tensors = [act("a", (1, 4, 4, 3), 0.05, -10), act("c", second_shape, 0.12, 17),
               act("y", (1, 4, 4, 3), 0.2, 3)]
    options = {"fused_activation_function": Act.NONE}
    return tensors, [Op(code, ["a", "c"], ["y"], (options_name, options))]


def mean(axes, keep_dims, out_shape):
    tensors = [act("x", (1, 6, 5, 7), 0.05, -20), const("axes", axes),
               act("y", out_shape, 0.02, 4)]
    return tensors, [Op(B.MEAN, ["x", "axes"], ["y"], ("ReducerOptions", {"keep_dims": keep_dims}))]


def pad():
    tensors = [act("x", (1, 4, 5, 3), 0.05, 33),
               const("paddings", [[0, 0], [1, 2], [2, 1], [0, 0]]),
               act("y", (1, 7, 8, 3), 0.05, 33)]
    return tensors, [Op(B.PAD, ["x", "paddings"], ["y"])]


def concat():
    tensors = [act("a", (1, 3, 3, 2), 0.05, -3), act("c", (1, 3, 3, 5), 0.05, -3),
               act("y", (1, 3, 3, 7), 0.05, -3)]
    options = {"axis": 3, "fused_activation_function": Act.NONE}
    return tensors, [Op(B.CONCATENATION, ["a", "c"], ["y"], ("ConcatenationOptions", options))]


def transpose():
    tensors = [act("x", (1, 3, 4, 5), 0.05, 2), const("perm", [0, 3, 1, 2]),
               act("y", (1, 5, 3, 4), 0.05, 2)]
    return tensors, [Op(B.TRANSPOSE, ["x", "perm"], ["y"])]


def requantize():
    tensors = [act("x", (1, 10), 0.05, 2), act("y", (1, 10), 0.013, -40)]
    return tensors, [Op(B.QUANTIZE, ["x"], ["y"])]


def softmax():
    tensors = [act("x", (2, 10), 0.1, 3), T("y", (2, 10), TensorType.INT8, None, [1 / 256], [-128])]
    return tensors, [Op(B.SOFTMAX, ["x"], ["y"], ("SoftmaxOptions", {"beta": 1.0}))]


CASES = {
    "max_pool_same_stride2_relu6": lambda: pool(B.MAX_POOL_2D, Padding.SAME, 3, 2, Act.RELU6),
    "avg_pool_same_stride2": lambda: pool(B.AVERAGE_POOL_2D, Padding.SAME, 3, 2),
    "conv_stride2_even_same": lambda: conv(2, 1, Padding.SAME, (4, 4)),
    "conv_dilation2_valid": lambda: conv(1, 2, Padding.VALID, (4, 4)),
    "depthwise_multiplier2_stride2": lambda: depthwise(2, 2, 1),
    "depthwise_multiplier3_dilation2": lambda: depthwise(3, 1, 2),
    "fully_connected_three_rows": fully_connected,
    "add_broadcast_channel": lambda: elementwise(B.ADD, "AddOptions", (1, 1, 1, 3)),
    "sub_same_shape": lambda: elementwise(B.SUB, "SubOptions", (1, 4, 4, 3)),
    "mul_broadcast_row": lambda: elementwise(B.MUL, "MulOptions", (1, 1, 4, 3)),
    "mean_spatial_keep_dims": lambda: mean([1, 2], True, (1, 1, 1, 7)),
    "mean_channels": lambda: mean([3], False, (1, 6, 5)),
    "pad_asymmetric": pad,
    "concat_channels": concat,
    "transpose_nhwc_to_nchw": transpose,
    "requantize": requantize,
    "softmax_two_rows": softmax,
}


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["host", "cortex-m4"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_single_op_bit_exact_with_tflite_micro(tmp_path, case, target):
    tensors, ops = CASES[case]()
    inputs = [name for name in ops[0].inputs if next(t for t in tensors if t.name == name).data is None]
    model = write_model(tmp_path, tensors, ops, inputs, ops[-1].outputs)

    result = verify_model(model, target, random_count=20)

    assert result.mismatches == []
    assert any("TFLite Micro, bit-exact on 20 samples" in line for line in result.lines)
