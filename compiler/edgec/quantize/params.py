"""Integer quantization parameters and values: the arithmetic behind ``quantize_graph``.

Pipeline position: the quantizer calls these functions after calibration has produced a
float range for every activation. They follow the TFLite integer-only spec:

- Activations: int8 asymmetric. The range is widened to contain 0, then
  ``scale = (max - min) / 255`` and ``zero_point = round(-128 - min / scale)``, clamped to
  [-128, 127]. A range of zero width gets ``FALLBACK_SCALE`` and zero point -128.
- Weights: int8 symmetric per output channel, values in [-127, 127],
  ``scale[c] = max|w[c]| / 127``. An all-zero channel gets ``FALLBACK_SCALE`` and zeros.
  The caller may raise a channel's scale (``min_scales``) so that its bias fits in int32.
- Bias: int32, ``scale[c] = input_scale * weight_scale[c]``, zero point 0.

Scales are stored as float32 (``Quant`` casts them), and every zero point or integer value is
computed from the stored float32 scale, so the stored pair always describes the stored
integers. Rounding is to nearest with ties away from zero, like C ``round()``.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Quant

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_MAX = 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# Scale used when the data gives none: a zero-width activation range (the tensor was 0 on
# every calibration sample) or an all-zero weight channel. Any positive value represents 0
# exactly. 1.0 keeps the bias scale (input_scale * weight_scale) far from underflow and
# keeps requantization multipliers near the magnitude of the other channels' multipliers.
FALLBACK_SCALE = 1.0

# A computed scale below the smallest normal float32 would be stored as a denormal or as 0,
# so such a scale is replaced by FALLBACK_SCALE as if the range had zero width.
MIN_SCALE = float(np.finfo(np.float32).smallest_normal)

SOFTMAX_OUTPUT = (1.0 / 256.0, -128)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (C ``round``), in float64."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def activation_quant(range_min: float, range_max: float, name: str = "") -> Quant:
    """Return int8 asymmetric per-tensor parameters covering ``[range_min, range_max]``.

    Raises QuantizationError naming ``name`` when a bound is not finite or min > max.
    """
    if not (np.isfinite(range_min) and np.isfinite(range_max)) or range_min > range_max:
        raise QuantizationError(
            f"tensor '{name}': invalid calibration range [{range_min}, {range_max}]; "
            "expected finite bounds with min <= max, so check the calibration data"
        )
    low = min(float(range_min), 0.0)
    high = max(float(range_max), 0.0)
    scale = float(np.float32((high - low) / (INT8_MAX - INT8_MIN)))
    if scale < MIN_SCALE:
        scale = FALLBACK_SCALE
    zero_point = round_half_away(INT8_MIN - low / scale)
    zero_point = int(np.clip(zero_point, INT8_MIN, INT8_MAX))
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def fixed_quant(scale: float, zero_point: int) -> Quant:
    """Return per-tensor parameters with a fixed scale and zero point."""
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def quantize_values(values: np.ndarray, quant: Quant) -> np.ndarray:
    """Quantize float ``values`` to int8 with per-tensor ``quant``, saturating."""
    scale = float(quant.scale[0])
    zero_point = int(quant.zero_point[0])
    q = round_half_away(np.asarray(values, dtype=np.float64) / scale) + zero_point
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def quantize_weights(
    weights: np.ndarray, axis: int, name: str = "", min_scales: np.ndarray | None = None
) -> tuple[np.ndarray, Quant]:
    """Quantize ``weights`` to int8 symmetric per channel along ``axis``.

    ``min_scales`` (one per channel) raises a channel's scale, for example so that its
    bias still fits in int32 when the channel's weights are nearly all zero.

    Returns the int8 weights and their ``Quant`` (one scale per channel, zero points 0).
    Raises QuantizationError naming ``name`` when a weight is NaN or infinite.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(weights).all():
        count = int(np.size(weights) - np.count_nonzero(np.isfinite(weights)))
        raise QuantizationError(
            f"weights '{name}': {count} values are NaN or infinite; fix the model's weights"
        )
    channels = np.moveaxis(weights, axis, 0).reshape(weights.shape[axis], -1)
    max_abs = np.abs(channels).max(axis=1, initial=0.0)
    scales = (max_abs / WEIGHT_MAX).astype(np.float32)
    scales[scales < MIN_SCALE] = FALLBACK_SCALE
    if min_scales is not None:
        scales = np.maximum(scales, np.asarray(min_scales, dtype=np.float32))

    broadcast_shape = [1] * weights.ndim
    broadcast_shape[axis] = -1
    q = round_half_away(weights / scales.astype(np.float64).reshape(broadcast_shape))
    q = np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    return q, Quant(scales, np.zeros(scales.shape, dtype=np.int64), axis=axis)


def quantize_bias(
    bias: np.ndarray, input_scale: float, weight_scales: np.ndarray, node_name: str = ""
) -> tuple[np.ndarray, Quant]:
    """Quantize ``bias`` to int32 with ``scale[c] = input_scale * weight_scales[c]``.

    Returns the int32 bias and its ``Quant`` (axis 0, zero points 0). Raises
    QuantizationError naming ``node_name`` when a value does not fit in int32.
    """
    bias = np.asarray(bias, dtype=np.float64)
    if not np.isfinite(bias).all():
        raise QuantizationError(
            f"node '{node_name}': the bias contains NaN or infinite values; fix the model's weights"
        )
    scales = np.float64(input_scale) * np.asarray(weight_scales, dtype=np.float64)
    scales = scales.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = round_half_away(bias / scales.astype(np.float64))
    bad = ~np.isfinite(q) | (q < INT32_MIN) | (q > INT32_MAX)
    if bad.any():
        channel = int(np.flatnonzero(bad)[0])
        raise QuantizationError(
            f"node '{node_name}': bias[{channel}] = {bias[channel]:g} overflows int32 at "
            f"scale {float(scales[channel]):g} (input scale {input_scale:g} x weight scale "
            f"{float(weight_scales[channel]):g}); widen the input's calibration range or "
            "check the model's weights"
        )
    return q.astype(np.int32), Quant(scales, np.zeros(scales.shape, dtype=np.int64), axis=0)
