"""16x8 TFLite models against TFLite Micro, on host and the Cortex-M4.

Each generated model has int8 input and output and one 16x8 operator between two QUANTIZE
operators: int8 -> int16, then CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED with int16
activations, int8 weights and an int64 bias, then int16 -> int8. That is the structure the
quantizer emits for a 16-bit layer. With `edgec verify`'s code path, the target's output
must equal edgec's reference interpreter and TFLite Micro bit for bit on 20 random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.BuiltinOperator import BuiltinOperator as B
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgec.verify import verify_model
from tests.tflite_builder import Op, T, act, write_model

RNG = np.random.default_rng(16)


def int16(name: str, shape, scale: float) -> T:
    return T(name, tuple(shape), TensorType.INT16, None, [scale], [0])


def filters(name: str, shape, axis: int, per_tensor: bool = False) -> T:
    data = RNG.integers(-127, 128, size=shape)
    channels = 1 if per_tensor else shape[axis]
    scales = list(0.01 * (1 + RNG.random(channels)))
    return T(name, tuple(shape), TensorType.INT8, data, scales, [0] * channels, axis)


def bias(name: str, channels: int, input_scale: float, weight_scales, wide: int = 0) -> T:
    """An int64 bias of about the accumulator's size, whose last ``wide`` channels are
    +-(2**32 + 12345), beyond int32."""
    data = RNG.integers(-(2**22), 2**22, size=channels)
    if wide:
        data[-wide:] = [(2**32 + 12345) * (-1) ** k for k in range(wide)]
    scales = [input_scale * s for s in np.broadcast_to(weight_scales, channels)]
    return T(name, (channels,), TensorType.INT64, data, scales, [0] * channels)


def around_16x8(core_tensors, core_op: Op, in_shape, out_shape, output_scale: float):
    """Wrap one 16x8 operator between int8 -> int16 and int16 -> int8 QUANTIZE operators.

    The int8 input and output scales are 128 times the int16 ones (input 0.05 / 128, output
    ``output_scale``), as the quantizer picks them for a range [0, max].
    """
    tensors = [act("x", in_shape, 0.05, -3), act("y", out_shape, output_scale * 128, 5),
               *core_tensors]
    ops = [Op(B.QUANTIZE, ["x"], ["x16"]), core_op, Op(B.QUANTIZE, ["y16"], ["y"])]
    return tensors, ops


def conv(stride: int, dilation: int, padding: int, out_hw) -> tuple:
    w = filters("w", (6, 3, 3, 4), 0)
    tensors = [int16("x16", (1, 8, 8, 4), 0.05 / 128), w, bias("b", 6, 0.05 / 128, w.scale),
               int16("y16", (1, *out_hw, 6), 80 / 32767)]
    options = {"padding": padding, "stride_w": stride, "stride_h": stride,
               "dilation_w_factor": dilation, "dilation_h_factor": dilation,
               "fused_activation_function": Act.RELU}
    core = Op(B.CONV_2D, ["x16", "w", "b"], ["y16"], ("Conv2DOptions", options))
    return around_16x8(tensors, core, (1, 8, 8, 4), (1, *out_hw, 6), 80 / 32767)


def depthwise(multiplier: int, stride: int, dilation: int) -> tuple:
    channels = 3 * multiplier
    out = 4 if stride == 2 else 8
    w = filters("w", (1, 3, 3, channels), 3)
    tensors = [int16("x16", (1, 8, 8, 3), 0.05 / 128), w,
               bias("b", channels, 0.05 / 128, w.scale),
               int16("y16", (1, out, out, channels), 40 / 32767)]
    options = {"padding": Padding.SAME, "stride_w": stride, "stride_h": stride,
               "depth_multiplier": multiplier, "dilation_w_factor": dilation,
               "dilation_h_factor": dilation, "fused_activation_function": Act.RELU6}
    core = Op(B.DEPTHWISE_CONV_2D, ["x16", "w", "b"], ["y16"],
              ("DepthwiseConv2DOptions", options))
    return around_16x8(tensors, core, (1, 8, 8, 3), (1, out, out, channels), 40 / 32767)


def fully_connected() -> tuple:
    # TFLite Micro takes per-tensor FC weights.
    w = filters("w", (7, 12), 0, per_tensor=True)
    tensors = [int16("x16", (3, 12), 0.05 / 128), w,
               bias("b", 7, 0.05 / 128, w.scale, wide=2), int16("y16", (3, 7), 50 / 32767)]
    options = {"fused_activation_function": Act.NONE}
    core = Op(B.FULLY_CONNECTED, ["x16", "w", "b"], ["y16"], ("FullyConnectedOptions", options))
    return around_16x8(tensors, core, (3, 12), (3, 7), 50 / 32767)


CASES = {
    "conv_stride2_same_relu": lambda: conv(2, 1, Padding.SAME, (4, 4)),
    "conv_dilation2_valid": lambda: conv(1, 2, Padding.VALID, (4, 4)),
    "depthwise_multiplier2_stride2_relu6": lambda: depthwise(2, 2, 1),
    "depthwise_multiplier3_dilation2": lambda: depthwise(3, 1, 2),
    "fully_connected_three_rows": fully_connected,
}


@pytest.mark.parametrize("target", [pytest.param("host", id="host"),
                                    pytest.param("cortex-m4", id="cortex-m4",
                                                 marks=pytest.mark.qemu)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_16x8_op_bit_exact_with_tflite_micro(tmp_path, case, target):
    tensors, ops = CASES[case]()
    model = write_model(tmp_path, tensors, ops, ["x"], ["y"])

    result = verify_model(model, target, random_count=20)

    assert result.mismatches == []
    assert any("TFLite Micro, bit-exact on 20 samples" in line for line in result.lines)
