"""The operator set of the edgec IR: names, inputs and attributes.

Frontends emit only these ops; each backend layer (reference interpreter, lowering, C kernel)
registers one handler per op. Semantics follow the TFLite builtin op of the same meaning, in
NHWC layout. Quantized semantics (int8 activations, int8 weights, int32 bias) follow the
TFLite integer-only spec; the reference interpreter is the executable definition. conv2d,
depthwise_conv2d and fully_connected also take int16 activations (zero point 0) with int8
weights and an int64 bias, as TFLite's 16x8 mode, and ``quantize`` converts between int8
and int16.

Common attributes:
- ``activation``: fused clamp as a float range ``(lo, hi)`` in real units (``-inf``/``inf``
  for an open side) or ``None``. Relu is ``(0, inf)``, Relu6 ``(0, 6)``. The lowering turns
  it into ``activation_min``/``activation_max`` in the output's quantized domain.
- ``strides``, ``dilations``: ``(h, w)``.
- ``pads``: explicit ``(top, left, bottom, right)`` for 2-D windows; frontends resolve
  TFLite SAME/VALID and ONNX auto_pad into this form.

Weights layouts: conv2d ``OHWI``; depthwise_conv2d ``1HW(C*M)`` (TFLite layout, output
channel ``c * M + m`` reads input channel ``c``); fully_connected ``(O, I)``. Bias is
optional (an empty input name) and has one value per output channel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpSpec:
    """An op's signature: its input names (in order) and the attribute keys it accepts."""

    inputs: tuple[str, ...]
    attrs: tuple[str, ...] = ()
    doc: str = ""


_WINDOW = ("strides", "dilations", "pads", "activation")

OPS: dict[str, OpSpec] = {
    "conv2d": OpSpec(("input", "filter", "bias"), _WINDOW, "NHWC conv, OHWI filter"),
    "depthwise_conv2d": OpSpec(
        ("input", "filter", "bias"), _WINDOW + ("depth_multiplier",), "1HW(C*M) filter"
    ),
    "fully_connected": OpSpec(
        ("input", "filter", "bias"), ("activation",), "rows of the last input dim times filter^T"
    ),
    "average_pool2d": OpSpec(
        ("input",), ("kernel", "strides", "pads", "activation"),
        "mean over the window's in-bounds elements (padding not counted)",
    ),
    "max_pool2d": OpSpec(("input",), ("kernel", "strides", "pads", "activation")),
    "mean": OpSpec(("input",), ("axes", "keepdims"), "mean over axes (TFLite MEAN)"),
    "add": OpSpec(("input1", "input2"), ("activation",), "numpy broadcasting"),
    "sub": OpSpec(("input1", "input2"), ("activation",), "numpy broadcasting"),
    "mul": OpSpec(("input1", "input2"), ("activation",), "numpy broadcasting"),
    "clip": OpSpec(("input",), ("activation",), "standalone clamp to the activation range"),
    "softmax": OpSpec(
        ("input", "mask"), ("beta",),
        "softmax over the last axis; the optional mask (int32, one value per element of the "
        "last axis) excludes the positions where it is 0",
    ),
    "reshape": OpSpec(("input",), (), "new shape is the output tensor's shape"),
    "transpose": OpSpec(("input",), ("perm",)),
    "concat": OpSpec(("inputs*",), ("axis",), "variadic: all inputs are concatenated"),
    "pad": OpSpec(("input",), ("pads",), "pads: ((before, after), ...) per dim; pads with 0.0"),
    # Transformer ops (MiniLM/BERT encoders).
    "batch_matmul": OpSpec(
        ("input1", "input2"), ("alpha",),
        "alpha * input1 @ input2 over the last two axes; equal leading (batch) dims",
    ),
    "gather": OpSpec(
        ("table", "indices"), (), "rows of a constant (V, C) table at int32 indices: (*idx, C)"
    ),
    "layer_norm": OpSpec(
        ("input", "gamma", "beta"), ("epsilon",),
        "(x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis",
    ),
    "gelu": OpSpec(("input",), (), "x * (1 + erf(x / sqrt(2))) / 2"),
    "masked_mean": OpSpec(
        ("input", "mask"), (),
        "(1, T, C) input, (1, T) int32 mask: mean over the T rows whose mask is not 0",
    ),
    "l2_normalize": OpSpec(
        ("input",), ("epsilon",), "x / max(sqrt(sum(x^2)), epsilon) over the last axis"
    ),
    "quantize": OpSpec(("input",), (), "float to integer, or integer requantization"),
    "dequantize": OpSpec(("input",), (), "integer to float32"),
}

VARIADIC = {"concat"}

# The output-channel axis of the filter of each weighted op, in the layouts above.
FILTER_CHANNEL_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0}
