"""Integer kernel parameters of the attention ops: the softmax input checks and gelu.

Where it sits: ``edgec.lower.params`` computes the softmax multiplier, shift and
``diff_min`` and calls ``check_softmax_inputs`` here first, and gelu registers its
parameters here with ``@params_for``. Everything is computed at compile time in float64, and
the kernels receive only integers.

Softmax inputs (op "softmax", inputs ("input", "mask")): an int8 input of any zero point,
or an int16 input of zero point 0, both per-tensor. The optional mask is an int32 tensor
with one value per element of the last axis, shape (depth,) or (1, depth), applied to
every row. An int16 input or a mask selects the ``edgec_softmax_s16_s8`` or
``edgec_softmax_masked_s8`` kernel. Their sum of exps is 32-bit, so their depth is limited
to ``MAX_MASKED_SOFTMAX_DEPTH``.

GELU (op "gelu"), per-tensor: an int8 input of any zero point takes a 256-entry int8 table
(``LookupTableParams.table``), whose entry i is the output of input value i - 128. An int16
input of zero point 0 takes the integer i-GELU polynomial of I-BERT
(``_integer_gelu_params``). The output is int8 of any zero point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant
from edgec.lower.params import QMAX, QMIN, KernelParams, params_for
from edgec.quantize.fixed_point import quantize_multiplier, round_half_away
from edgec.reference.float_ops import gelu_values

# Each exp adds at most 2**19 (1.0 in Q12.19) to the uint32 sum of exps, so 8191
# positions cannot wrap it.
MAX_MASKED_SOFTMAX_DEPTH = 8191


@dataclass
class LookupTableParams(KernelParams):
    """Kernel parameters with a lookup table, indexed by the input value minus the input
    type's minimum. ``table[i]`` is the output of int8 input ``i - 128``."""

    table: np.ndarray | None = None


def _where(node: Node) -> str:
    return f"node '{node.name}' ({node.op})"


def _per_tensor_quant(node: Node, graph: Graph, name: str) -> Quant:
    """Return the per-tensor quantization of tensor ``name``.

    Raises QuantizationError when the tensor has none or has one scale per channel.
    """
    quant = graph.tensors[name].quant
    if quant is None:
        raise QuantizationError(f"{_where(node)}: tensor '{name}' has no quantization parameters")
    if quant.scale.size != 1:
        raise QuantizationError(
            f"{_where(node)}: tensor '{name}' has {quant.scale.size} scales, but this op "
            "needs one per-tensor scale and zero point"
        )
    return quant


def softmax_mask_name(node: Node) -> str:
    """Return the name of the softmax node's mask input, or "" when it has none."""
    return node.inputs[1] if len(node.inputs) > 1 else ""


def uses_masked_softmax_kernel(node: Node, graph: Graph) -> bool:
    """Return whether the softmax node needs the masked or int16 kernel (not edgec_softmax_s8)."""
    return bool(softmax_mask_name(node)) or graph.tensors[node.inputs[0]].dtype == "int16"


def check_softmax_inputs(node: Node, graph: Graph) -> None:
    """Raise unless the softmax node's input, beta and mask are ones the kernels compute."""
    source = graph.tensors[node.inputs[0]]
    if source.dtype not in ("int8", "int16"):
        raise UnsupportedAttributeError(
            f"{_where(node)}: input '{source.name}' is {source.dtype}, but the integer "
            "softmax takes int8 or int16 inputs"
        )
    quant = _per_tensor_quant(node, graph, source.name)
    if source.dtype == "int16" and int(quant.zero_point[0]) != 0:
        raise QuantizationError(
            f"{_where(node)}: int16 input '{source.name}' has zero point "
            f"{int(quant.zero_point[0])}, but int16 activations must be symmetric (zero "
            "point 0)"
        )

    beta = float(node.attrs.get("beta", 1.0))
    if not (math.isfinite(beta) and beta >= 0.0):
        raise UnsupportedAttributeError(
            f"{_where(node)}: beta is {beta}, but the integer softmax needs a finite beta >= 0"
        )
    if uses_masked_softmax_kernel(node, graph):
        _check_masked_softmax(node, graph)


def _check_masked_softmax(node: Node, graph: Graph) -> None:
    depth = graph.tensors[node.inputs[0]].shape[-1]
    if depth > MAX_MASKED_SOFTMAX_DEPTH:
        raise UnsupportedAttributeError(
            f"{_where(node)}: the last axis has {depth} elements, but the int16 and masked "
            f"softmax kernels take at most {MAX_MASKED_SOFTMAX_DEPTH}, so that their 32-bit "
            "sum of exps cannot wrap"
        )
    name = softmax_mask_name(node)
    if not name:
        return
    mask = graph.tensors[name]
    if mask.dtype != "int32" or mask.shape not in ((depth,), (1, depth)):
        raise UnsupportedAttributeError(
            f"{_where(node)}: mask '{name}' is {mask.dtype} of shape {mask.shape}, expected "
            f"int32 of shape ({depth},) or (1, {depth}), one value per element of the last "
            "axis"
        )


@params_for("gelu")
def _gelu_params(node: Node, graph: Graph) -> KernelParams:
    """Compute the int8 GELU table, or the i-GELU parameters of an int16 input."""
    dtypes = (graph.tensors[node.inputs[0]].dtype, graph.tensors[node.outputs[0]].dtype)
    if dtypes not in (("int8", "int8"), ("int16", "int8")):
        raise UnsupportedAttributeError(
            f"{_where(node)}: input and output are {dtypes[0]} and {dtypes[1]}, but the "
            "integer gelu takes an int8 or int16 input and an int8 output"
        )
    q_in = _per_tensor_quant(node, graph, node.inputs[0])
    q_out = _per_tensor_quant(node, graph, node.outputs[0])
    for name, quant in ((node.inputs[0], q_in), (node.outputs[0], q_out)):
        scale = float(quant.scale[0])
        if not (math.isfinite(scale) and scale > 0.0):
            raise QuantizationError(
                f"{_where(node)}: tensor '{name}' has scale {scale}, expected a finite scale > 0"
            )
    if dtypes[0] == "int16":
        return _integer_gelu_params(node, q_in, q_out)
    table = gelu_table(
        float(q_in.scale[0]), int(q_in.zero_point[0]),
        float(q_out.scale[0]), int(q_out.zero_point[0]),
    )
    return LookupTableParams(table=table)


def gelu_table(input_scale: float, input_zero_point: int, output_scale: float,
               output_zero_point: int) -> np.ndarray:
    """Return the int8 GELU outputs of the 256 int8 inputs -128 .. 127 as an int8 array."""
    inputs = np.arange(QMIN["int8"], QMAX["int8"] + 1, dtype=np.int64)
    real = np.float64(input_scale) * (inputs - input_zero_point)
    scaled = gelu_values(real) / np.float64(output_scale)
    quantized = [round_half_away(float(v)) + output_zero_point for v in scaled]
    return np.clip(quantized, QMIN["int8"], QMAX["int8"]).astype(np.int8)


# i-GELU (I-BERT: Kim et al. 2021, "I-BERT: Integer-only BERT Quantization"): erf(t) for
# t >= 0 is approximated by 1 + a * (min(t, -b) + b)**2 with the paper's a and b.
IGELU_A = -0.2888
IGELU_B = -1.769
# Fractional bits of t = |x| / sqrt(2) in the int16 gelu kernel (Q2.29).
IGELU_T_FRACTIONAL_BITS = 29
# The output requantization divides q * (1 + erf) by 2 and by the 2**15 units of 1 + erf.
IGELU_PRODUCT_SCALE = 2.0**16


def _integer_gelu_params(node: Node, q_in: Quant, q_out: Quant) -> KernelParams:
    """Compute the parameters of the int16 i-GELU (``edgec.reference.int_attention``).

    ``input_multiplier`` and ``input_right_shift`` turn |q| into t = |x| / sqrt(2) in
    Q2.29 as ``(|q| * input_multiplier + 2**(shift - 1)) >> shift``. The output multiplier
    and shift requantize ``q * (1 + erf)`` (erf in units of 2**-15) by
    input scale / (2 * 2**15 * output scale).
    """
    where = _where(node)
    if int(q_in.zero_point[0]) != 0:
        raise QuantizationError(
            f"{where}: int16 input '{node.inputs[0]}' has zero point {int(q_in.zero_point[0])}, "
            "but int16 activations must be symmetric (zero point 0)"
        )
    input_scale, output_scale = float(q_in.scale[0]), float(q_out.scale[0])
    mantissa, exponent = math.frexp(
        input_scale / math.sqrt(2.0) * 2.0**IGELU_T_FRACTIONAL_BITS
    )
    input_multiplier = round_half_away(mantissa * 2**31)
    input_right_shift = 31 - exponent
    if input_multiplier == 2**31:
        input_multiplier //= 2
        input_right_shift -= 1
    if not 1 <= input_right_shift <= 62:
        raise QuantizationError(
            f"{where}: input scale {input_scale:g} is outside [6.2e-19, 2.8], where "
            "|x| / sqrt(2) of the int16 gelu fits its Q2.29 format. Requantize the input"
        )

    output_multiplier, output_shift = quantize_multiplier(
        input_scale / (IGELU_PRODUCT_SCALE * output_scale)
    )
    if output_shift > 0:
        raise QuantizationError(
            f"{where}: input scale / output scale = {input_scale / output_scale:g} is 2**16 "
            "or more, beyond the int16 gelu's output requantization. Widen the output's range"
        )
    values = {
        "input_multiplier": input_multiplier,
        "input_right_shift": input_right_shift,
        "output_multiplier": output_multiplier,
        "output_shift": output_shift,
        "output_offset": int(q_out.zero_point[0]),
    }
    return KernelParams(values)
