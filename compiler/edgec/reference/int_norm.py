"""Integer reference kernels of layer_norm and l2_normalize.

Where they sit: the reference interpreter runs them for quantized nodes, and the C kernels
(runtime_c/kernels/ref/layer_norm_s8.c, layer_norm_s16.c, layer_norm_s8_s16.c,
layer_norm_s16_s16.c, l2_normalize_s8.c) must match them bit for bit. Their integer
parameters come from ``edgec.lower.params_norm``. Both ops normalize the last axis, one row
at a time. All arithmetic is int64 and exact; no step
depends on the requantization rounding mode except l2_normalize's last multiply, which uses
``fixed_point.multiply_by_quantized_multiplier`` as TFLite does.

The error bounds in the docstrings are in output steps (LSB) against the float kernels of
``edgec.reference.float_ops`` run on the dequantized input, with the float result clamped
to the output's range. For layer_norm the float result is taken before the float kernel's
final float32 cast, which alone moves a result near the int16 limits by up to 2**-9 steps.
tests/reference/test_norm_error_bounds.py measures them.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.ir import DTYPES, Graph, Node
from edgec.lower.params import kernel_params
from edgec.lower.params_norm import NORMALIZED_FRACTION_BITS, OFFSET_FRACTION_BITS
from edgec.quantize import fixed_point as fp
from edgec.reference.interpreter import INT_KERNELS, register

# The variance term of a row is scaled by 4**k into [2**59, 2**62]; its square root then
# has 30 to 31 bits.
VARIANCE_TARGET_BITS = 61
# reciprocal = round(2**54 / root): with root >= 2**29.5 it has 24 to 25 bits.
RECIPROCAL_BITS = 54
# z = d * reciprocal * 2**k / 2**30 is the normalized value in Q24.
RECIPROCAL_TO_Q24_SHIFT = RECIPROCAL_BITS - NORMALIZED_FRACTION_BITS


def round_shift(values, shift) -> np.ndarray:
    """Return values / 2**shift rounded to nearest (ties toward +infinity), shift in [0, 62]."""
    values = np.asarray(values, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    return (values + ((np.int64(1) << shift) >> 1)) >> shift


def bit_length(values: np.ndarray) -> np.ndarray:
    """Return the number of bits of each non-negative int64 value (0 for 0)."""
    values = np.asarray(values, dtype=np.int64)
    return ((values[..., np.newaxis] >> np.arange(63, dtype=np.int64)) > 0).sum(axis=-1)


def integer_sqrt(values: np.ndarray) -> np.ndarray:
    """Return floor(sqrt(v)) of each non-negative int64 value, exactly."""
    flat = [math.isqrt(int(v)) for v in np.asarray(values).ravel()]
    return np.array(flat, dtype=np.int64).reshape(np.shape(values))


def scaled_epsilon(mantissa: int, exponent: int, shift: np.ndarray) -> np.ndarray:
    """Return round(mantissa * 2**(exponent + shift)), ties up, and 0 where exponent + shift
    is -32 or less."""
    total = exponent + np.asarray(shift, dtype=np.int64)
    if mantissa == 0:
        return np.zeros_like(total)
    up = np.int64(mantissa) << np.clip(total, 0, 62)
    down = round_shift(np.int64(mantissa), np.clip(-total, 0, 62))
    return np.where(total >= 0, up, np.where(total > -32, down, 0))


def layer_norm_rows(values: np.ndarray, params) -> np.ndarray:
    """Normalize each row (last axis) of ``values`` and return int64 values in
    [params.output_min, params.output_max], the limits of the int8 or int16 output.

    With x = q + input_offset, N = depth and, per row, S = sum x and Q = sum x**2:
    1. V = N*Q - S**2 (exact int64; N**2 times the variance in input steps squared).
       E = epsilon_mantissa * 2**epsilon_exponent stands for N**2 * epsilon / s_in**2, so
       the real normalized value is d / sqrt(V + E) with d = N*x - S.
    2. L = max(bit_length(V), 31 + epsilon_exponent if epsilon_mantissa else 0) and
       k = (61 - L) // 2, so that (V + E) * 4**k lies in [2**59, 2**62) when V > 0.
       D = V * 4**k + round(E * 4**k) and r = floor(sqrt(D)), in [2**29.5, 2**31].
    3. reciprocal = floor((2**54 + floor(r / 2)) / r), one division per row; 0 when V = 0
       (a constant row, where every d is 0).
    4. z = round(d * reciprocal / 2**(30 - k)): (x - mean) / sqrt(var + epsilon) in Q24.
    5. Per channel c: y = round(z * multiplier[c] / 2**shift[c]) + offset[c], the output
       in Q16 (gamma / s_out scaling, beta / s_out and the output zero point), then
       round(y / 2**16) clamped to [output_min, output_max]. Only this clamp depends on
       the output type.
    Every "round" rounds ties toward +infinity. N = 1 and constant rows give beta.

    Overflow bounds (checked by ``params_norm`` and the C kernels), the same for int8 and
    int16 outputs: N <= 8192 and |x| <= 2**16 keep |d| <= 2**30 and V < 2**58. The
    reciprocal is at most 2**24.5, so |d * reciprocal| < 2**55; |z| <= sqrt(N - 1) * 2**24
    < 2**31, |z * multiplier| <= 2**62, |round(z * multiplier / 2**shift)| < 2**47 for
    gamma / s_out < 2**24, and |offset| <= 2**56.

    Error bound, with R = max|gamma / s_out| and n * R the normalized value times
    gamma / s_out of an output below saturation:
    - int8 output: at most 0.5 + 2**-25 * R + 2**-12 output steps, for |n * R| <= 2**9;
    - int16 output: at most 0.5 + 2**-25 * R + 2**-7 output steps, for |n * R| <= 2**16.
    The terms are the final rounding, the Q24 rounding of z, and the relative errors of
    the reciprocal (2**-24, the rounding of a value of at least 2**23), the square root
    (2**-29.5) and the multipliers (2**-31) times |n * R|, plus 2**-16 for the roundings
    of z * multiplier and of the offsets to Q16. Measured by
    tests/reference/test_norm_error_bounds.py: 0.500011 steps over the int8-output sweeps
    (R up to about 1100) and 0.739 for R = 8.3e6 (that case's bound is 0.749); 0.50095
    steps over the int16-output sweeps (R up to about 1.4e5), 0.50105 with
    |n * R| up to 2**15.96, and 0.783 for R = 1.6e7 (bound 0.988).
    """
    x = np.asarray(values, dtype=np.int64) + params["input_offset"]
    depth = x.shape[-1]
    rows = x.reshape(-1, depth)
    total = rows.sum(axis=1)
    variance = depth * (rows * rows).sum(axis=1) - total * total

    mantissa, exponent = params["epsilon_mantissa"], params["epsilon_exponent"]
    epsilon_bits = max(0, 31 + exponent) if mantissa else 0
    k = (VARIANCE_TARGET_BITS - np.maximum(bit_length(variance), epsilon_bits)) // 2
    scaled = (variance << (2 * k)) + scaled_epsilon(mantissa, exponent, 2 * k)
    root = integer_sqrt(scaled)
    safe_root = np.maximum(root, 1)
    reciprocal = np.where(
        variance > 0, ((np.int64(1) << RECIPROCAL_BITS) + (safe_root >> 1)) // safe_root, 0
    )

    centered = depth * rows - total[:, np.newaxis]
    z = round_shift(centered * reciprocal[:, np.newaxis], (RECIPROCAL_TO_Q24_SHIFT - k)[:, None])
    fixed = round_shift(z * params.multipliers, params.shifts) + params.offsets
    out = np.clip(round_shift(fixed, OFFSET_FRACTION_BITS), params.output_min, params.output_max)
    return out.reshape(x.shape)


@register(INT_KERNELS, "layer_norm")
def layer_norm(node: Node, inputs: list, graph: Graph) -> list:
    """Run layer_norm on an int8 or int16 input and return an int8 or int16 output.

    The float gamma and beta are folded into ``params``.
    """
    params = kernel_params(node, graph)
    output_type = DTYPES[graph.tensors[node.outputs[0]].dtype]
    return [layer_norm_rows(inputs[0], params).astype(output_type)]


# --- l2_normalize ------------------------------------------------------------------------

# 1.5 in Q3.28 and sqrt(2) / 2 in Q0.31: the constants of TFLite's inverse square root.
THREE_HALVES_Q3 = (1 << 28) + (1 << 27)
HALF_SQRT2_Q0 = 1518500250
# TFLite's int8 L2Normalization output is in 1/128 steps: 2**7 times the unit vector.
L2_OUTPUT_SHIFT = 7


def inverse_sqrt_multiplier(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (multiplier, shift) with 1 / sqrt(v) ~= multiplier * 2**(shift - 31).

    This repeats the arithmetic of TFLite's GetInvSqrtQuantizedMultiplierExp
    (kernels/internal/common.h) with reverse_shift -1, for int32 values v >= 0. A value
    v <= 1 gives (2**31 - 1, 0). Otherwise v is divided by 4 once when it is 2**29 or more, then shifted left by an even count into
    [2**27, 2**29) and read as a Q3.28 value a in [1/4, 1). Five Newton-Raphson steps
    x = 1.5 * x - a / 2 * x**3 from x = 1 give 1 / sqrt(a), which is multiplied by
    sqrt(2) / 2 to undo the halving of a. A negative exponent is folded into the
    multiplier by a left shift.
    """
    values = np.asarray(values, dtype=np.int64)
    small = values <= 1
    value = np.where(small, 2, values)
    large = value >= 1 << 29
    value = np.where(large, value >> 2, value)
    exponent = 11 + large.astype(np.int64)
    left_pairs = (fp.count_leading_zeros32(value) - 1) // 2 - 1
    exponent = exponent - left_pairs
    value = value << (2 * left_pairs)

    half_input = fp.rounding_divide_by_pot(value >> 1, 1)
    x = np.full(value.shape, 1 << 28, dtype=np.int64)
    for _ in range(5):
        cube = fp.saturating_left_shift(
            fp.saturating_rounding_doubling_high_mul(
                fp.saturating_rounding_doubling_high_mul(x, x), x
            ),
            6,
        )
        difference = fp.wrap_int32(
            fp.saturating_rounding_doubling_high_mul(THREE_HALVES_Q3, x)
            - fp.saturating_rounding_doubling_high_mul(half_input, cube)
        )
        x = fp.saturating_left_shift(difference, 3)
    x = fp.saturating_rounding_doubling_high_mul(x, HALF_SQRT2_Q0)

    x = np.where(exponent < 0, fp.wrap_int32(x << np.maximum(-exponent, 0)), x)
    exponent = np.maximum(exponent, 0)
    multiplier = np.where(small, fp.INT32_MAX, x)
    return multiplier, np.where(small, 0, -exponent)


def l2_normalize_rows(values: np.ndarray, input_offset: int) -> np.ndarray:
    """Apply TFLite's int8 L2Normalization to each row (last axis) and return int64 values
    in [-128, 127].

    With x = q + input_offset and acc = sum x**2 (int32, because the depth is at most
    33025), out = clamp(multiply_by_quantized_multiplier(x, m, shift + 7), -128, 127) with
    (m, shift) = ``inverse_sqrt_multiplier(acc)``. That is x / sqrt(acc) in steps of 1/128.
    An all-zero row gives zeros. Epsilon is not used, because ``params_norm`` accepts only
    an epsilon up to the input scale, which cannot change a non-zero row's norm.

    Error bound: at most 0.75 + 2**-10 output steps, measured 0.74998. With the default
    double rounding, the doubling high multiply rounds once and the rounding right shift
    rounds again (together up to 0.5 + 0.25 steps), and the inverse square root adds a relative
    error of at most 1.3e-6. The float result is clamped to [-1, 127/128] first, so an
    element that carries the whole norm (127 for +1) counts no error.
    """
    x = np.asarray(values, dtype=np.int64) + input_offset
    acc = (x * x).sum(axis=-1, keepdims=True)
    multiplier, shift = inverse_sqrt_multiplier(acc)
    scaled = fp.multiply_by_quantized_multiplier(x, multiplier, shift + L2_OUTPUT_SHIFT)
    return np.clip(scaled, -128, 127)


@register(INT_KERNELS, "l2_normalize")
def l2_normalize(node: Node, inputs: list, graph: Graph) -> list:
    """Run l2_normalize on an int8 input of any zero point.

    The int8 output has scale 1/128 and zero point 0.
    """
    params = kernel_params(node, graph)
    return [l2_normalize_rows(inputs[0], params["input_offset"]).astype(np.int8)]
