"""Integer reference kernels of the attention ops: softmax rows with a mask, and gelu.

Where they sit: ``edgec.reference.int_ops.softmax`` (the registered quantized softmax)
computes every softmax with ``softmax_rows``, and ``gelu`` is registered here. Both read
their integer parameters from ``edgec.lower.params`` (the same numbers the C kernels
receive), and the C kernels in runtime_c/kernels/ref must match them bit for bit.

Softmax (``softmax_rows``): TFLite's int8 Softmax arithmetic, also for int16 inputs, plus
a mask. Output int8 with scale 1/256 and zero point -128.

1. Positions whose mask value is 0 are left out of the row maximum and of the sum, and
   output -128. When the mask leaves no position, every row is computed as if all its
   inputs were equal (uniform). Every position then outputs round(256 / depth) - 128 with
   ties away from zero (127 for depth 1), but -128 from depth 512 on.
2. ``diff = x - max`` of each kept position. Positions with ``diff < diff_min`` output -128
   and add nothing to the sum, because their exp is below exp(-15.5) = 2e-7 (see
   ``edgec.lower.params._softmax_params``).
3. ``diff * 2**input_left_shift * input_multiplier`` is the scaled difference in Q5.26,
   ``exp_on_negative_values`` gives its exp in Q0.31, and the exps are summed in Q12.19.
4. ``output = exp * reciprocal(sum)`` in units of 1/256, minus 128, clamped to int8.

int16 inputs (zero point 0) differ from int8 ones only in the range of ``diff``, which
``edgec.lower.params`` bounds through ``diff_min`` so that step 3 never wraps.

Error bounds, measured by tests/reference/test_attention_error_bounds.py:

- ``exp_on_negative_values(a, 5)`` over the Q5.26 inputs ``a`` in [-2**31, 0] (a grid of
  step 2**11, and every input in [-2**21, 0]): at most ``EXP_MAX_ERROR_Q31`` units of
  2**-31 from ``exp(a / 2**26)``.
- softmax rows, int16 inputs of scale 1e-4 .. 0.05 and int8 inputs of scale 0.01 .. 0.2
  (beta 1), depth 1 .. 64, with and without masks: at most ``SOFTMAX_MAX_ERROR_LSB``
  output LSB (1/256) from the float64 softmax of the dequantized inputs over the kept
  positions, with the float probability capped at 255/256 (the largest output). So the
  error reaches 1 LSB only for a probability near 1.

GELU (``gelu``): int8 to int8 through a 256-entry table, which
``edgec.lower.params_attention`` fills from the float64 GELU. So every output is the
correctly rounded one (within 0.5 output LSB) except where it clamps to [-128, 127].
"""

from __future__ import annotations

import numpy as np

from edgec.ir import DTYPES
from edgec.lower.params import SOFTMAX_DIFF_INTEGER_BITS, KernelParams, kernel_params
from edgec.lower.params_attention import IGELU_A, IGELU_B
from edgec.quantize import fixed_point as fp
from edgec.reference.interpreter import INT_KERNELS, register

# Integer bits of the sum of exps (Q12.19), as TFLite's kAccumulationIntegerBits.
SOFTMAX_ACCUMULATION_BITS = 12

# Error bounds (see the module docstring). The exp's measured maximum is 492.25 units of
# 2**-31 (2.3e-7), just below 0, where the fourth-order series of
# exp_on_interval_minus_quarter_to_zero is least accurate. The softmax's measured maximum is
# 0.501 LSB: 0.5 from rounding to 1/256, and at most depth / 2**20 relative error from the
# Q12.19 terms of the sum, 0.016 LSB for depth 64.
EXP_MAX_ERROR_Q31 = 500
SOFTMAX_MAX_ERROR_LSB = 0.52
# The table entries are the correctly rounded outputs.
GELU_MAX_ERROR_LSB = 0.5

# The i-GELU constants of the int16 gelu (see ``integer_gelu``): -b = 1.769 in Q2.29, a =
# -0.2888 in Q0.31, 1.0 in Q4.27, and the shift from Q4.27 to units of 2**-15. The C
# kernel gelu_s16_s8.c repeats the first two as literals.
IGELU_B_Q29 = fp.round_half_away(-IGELU_B * 2**29)  # 949724643
IGELU_A_Q31 = fp.round_half_away(IGELU_A * 2**31)  # -620193278
ONE_Q4_27 = 1 << 27
IGELU_H_SHIFT = 12
# Bound on |dequantized output - GELU(x)| beyond 0.5 output LSB, in real units. The measured
# error is 0.01815, the error of the polynomial itself (at |x| = 2.35). The fixed-point
# steps add less than 1e-6.
IGELU_MAX_ERROR = 0.0185


def softmax_keep(mask, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """Return the positions a softmax uses (broadcast to ``shape``) and whether the mask
    leaves none, in which case every position is used with the row treated as uniform."""
    if mask is None:
        return np.ones(shape, dtype=bool), False
    keep = np.asarray(mask).reshape(-1) != 0
    if not keep.any():
        return np.ones(shape, dtype=bool), True
    return np.broadcast_to(keep, shape), False


def softmax_rows(x: np.ndarray, params: KernelParams, mask=None) -> np.ndarray:
    """Compute the softmax over the last axis of the integer array ``x``.

    ``mask`` is None or one value per element of the last axis. Returns int64 outputs in
    [-128, 127], computed step by step as the module docstring describes. Without a mask
    this is exactly TFLite's int8 Softmax.
    """
    x = np.asarray(x, dtype=np.int64)
    keep, uniform = softmax_keep(mask, x.shape)
    if uniform:
        diff = np.zeros(x.shape, dtype=np.int64)
    else:
        lowest = np.iinfo(np.int64).min
        row_max = np.where(keep, x, lowest).max(axis=-1, keepdims=True)
        diff = np.where(keep, x - row_max, 0)

    scaled = fp.saturating_rounding_doubling_high_mul(
        fp.wrap_int32(diff << params["input_left_shift"]), params["input_multiplier"]
    )
    exps = fp.exp_on_negative_values(scaled, SOFTMAX_DIFF_INTEGER_BITS)
    used = keep & (diff >= params["diff_min"])
    terms = fp.rounding_divide_by_pot(exps, SOFTMAX_ACCUMULATION_BITS)
    sum_of_exps = np.where(used, terms, 0).sum(axis=-1, keepdims=True)

    scale, bits_over_unit = fp.reciprocal(sum_of_exps, SOFTMAX_ACCUMULATION_BITS)
    exponent = bits_over_unit + 31 - 8
    unsaturated = fp.rounding_divide_by_pot(
        fp.saturating_rounding_doubling_high_mul(scale, exps), exponent
    )
    out = np.clip(unsaturated - 128, -128, 127)
    return np.where(used, out, -128)


@register(INT_KERNELS, "gelu")
def gelu(node, inputs, graph):
    """GELU of an int8 input by table lookup, or of an int16 input by ``integer_gelu``.

    The int8 table (``edgec.lower.params_attention``) contains the float64 GELU of every
    dequantized input, rounded half away from zero to the output's quantization and
    clamped. So ``output = table[input + 128]`` is within 0.5 output LSB (plus float64
    rounding) of the GELU wherever the output does not clamp.
    """
    params = kernel_params(node, graph)
    x = np.asarray(inputs[0], dtype=np.int64)
    if graph.tensors[node.inputs[0]].dtype == "int16":
        out = integer_gelu(x, params)
    else:
        out = params.table.astype(np.int64)[x + 128]
    return [out.astype(DTYPES[graph.tensors[node.outputs[0]].dtype])]


def integer_gelu(x: np.ndarray, params: KernelParams) -> np.ndarray:
    """Compute I-BERT's i-GELU of int16 inputs (zero point 0); returns int8 values as int64.

    GELU(x) = x * (1 + erf(x / sqrt(2))) / 2, with erf(t) = sign(t) * L(|t|) and the
    second-order polynomial L(t) = 1 + a * (min(t, -b) + b)**2 (a = -0.2888, b = -1.769,
    Kim et al. 2021, "I-BERT: Integer-only BERT Quantization"). In place of I-BERT's
    integer scale factors it uses fixed point, so every step stays in int32:

    1. t = |x| / sqrt(2) in Q2.29: ``(|q| * input_multiplier) >> input_right_shift``,
       rounded, in int64, then clipped to -b;
    2. d = t + b, L = 1 + a * d * d in Q4.27 with two doubling high multiplies;
    3. h = 1 + sign(q) * L in units of 2**-15 (a rounding shift by 12), in [0, 2];
    4. output = q * h requantized by input scale / (2**16 * output scale), plus the output
       zero point, clamped to int8.

    Error bound (tests/reference/test_attention_error_bounds.py, every int16 input for
    several scales): |dequantized output - GELU(x)| <= 0.5 output LSB +
    ``IGELU_MAX_ERROR`` (0.0185) wherever the output does not clamp. The polynomial itself
    is off by up to 0.01815, at |x| = 2.35.
    """
    q = np.asarray(x, dtype=np.int64)
    shift = params["input_right_shift"]
    t = (np.abs(q) * params["input_multiplier"] + (1 << (shift - 1))) >> shift
    t = np.minimum(t, IGELU_B_Q29)

    d = t - IGELU_B_Q29
    d_squared = fp.saturating_rounding_doubling_high_mul(d, d)
    polynomial = ONE_Q4_27 + fp.saturating_rounding_doubling_high_mul(d_squared, IGELU_A_Q31)
    one_plus_erf = ONE_Q4_27 + np.where(q >= 0, polynomial, -polynomial)
    one_plus_erf = fp.rounding_divide_by_pot(one_plus_erf, IGELU_H_SHIFT)

    raw = fp.multiply_by_quantized_multiplier(
        q * one_plus_erf, params["output_multiplier"], params["output_shift"]
    )
    return np.clip(raw + params["output_offset"], -128, 127)
