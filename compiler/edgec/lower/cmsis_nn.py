"""The CMSIS-NN backend of ``--kernels cmsis-nn``: Arm's s8 functions where they are exact.

Where it sits: between the choice of kernels and lowering (``edgec.codegen.generator``). The
target's edgec variants are chosen first (``edgec.lower.variants``). ``CmsisNn.choose`` then
gives every node that a CMSIS-NN function computes exactly to that function, and
``CmsisNnVariant.lower`` turns the node into a call with CMSIS-NN's own structs (context,
params, dims, quantization) in place of edgec's signatures. Every other node keeps the
edgec kernel chosen for it, and ``CmsisNn.rejected`` records why CMSIS-NN did not take it.

Exactness, with edgec's reference interpreter as the spec (facts read in CMSIS-NN's sources
at commit 4ab83cc3, the one TFLite Micro pins):

- CMSIS-NN requantizes with arm_nn_requantize, or arm_requantize_mve and its 32x4 form on
  Helium. By default this is TFLite's double rounding, equal to edgec's
  ``multiply_by_quantized_multiplier`` for shifts in [-31, 30]. Built with
  CMSIS_NN_USE_SINGLE_ROUNDING it rounds once, as edgec does for graphs whose
  ``requantize_rounding`` is "single", so such projects build CMSIS-NN with that define.
- CMSIS-NN computes in int32 where edgec wraps or widens explicitly, and int32 overflow is
  undefined in C. A node is taken only when a bound from its weights, bias and
  quantization shows that no accumulator or requantization step can overflow
  (``requantization_exact``, ``add_exact``). The NOTE at arm_elementwise_add_s8 names one
  shift inside CMSIS-NN that does overflow.
- Average pooling rounds half away from zero and max pooling takes the largest in-bounds
  tap, as edgec does. Both, and the convolutions, need every window to overlap the input.

Buffers: CMSIS-NN's own ``*_get_buffer_size_dsp`` / ``_mve`` functions (the plain function
for CPUs without the DSP extension) size each call's buffer at compile time. They are
compiled for the build machine from the checkout and called through ctypes, and the
buffers are planned in edgec's arena. On Helium, the fully connected functions read
``bias + input_offset * sum(filter)`` from their buffer: that is a constant here
(``folded_bias``), emitted as an array instead of a scratch buffer.

Sources: the CMSIS-NN .c files that the calls reach (found by scanning Source/ for function
definitions and calls) are copied with Include/ and LICENSE into the project's
kernels/cmsis-nn/. The project then builds without the checkout, keeps the exact CMSIS-NN
sources it was checked with, and ``edgec bench`` counts CMSIS-NN in ``flash_bytes``.

To support another CMSIS-NN function, write its struct and argument builders and register a
``CmsisNnVariant`` with the predicates that make it exact.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError, TargetError, ToolchainError
from edgec.ir import Graph, Node
from edgec.lower.calls import KernelCall, LoweringContext
from edgec.lower.params import MAX_CENTERED_INPUT, kernel_params
from edgec.lower.variants import (
    Predicate,
    Variant,
    batch_1,
    filter_symmetric,
    folded_bias,
    int8_activations,
    int8_filter,
    int8_output,
    predicate,
    same_shape_inputs,
)
from edgec.targets import Target, load_target

MODE = "cmsis-nn"
ENVIRONMENT_VARIABLE = "EDGEC_CMSIS_NN"
# The file that marks a CMSIS-NN checkout, relative to its root.
MARKER_FILE = "Include/arm_nnfunctions.h"
HEADER = "arm_nnfunctions.h"
# The folder of a generated project that contains its copy of CMSIS-NN.
PROJECT_DIR = "kernels/cmsis-nn"
# The model.c function that maps arm_cmsis_nn_status to edgec_status.
STATUS_ADAPTER = "edgec_cmsis_nn_status"
# The target whose compiler builds CMSIS-NN's buffer size functions for this machine.
HOST_TARGET = "host"
# CMSIS-NN releases this backend was checked with, for error messages.
CHECKED_RELEASES = "v5.0.0 to v7.0.0 and commit 4ab83cc3"

INT32_MAX = 2**31 - 1
UINT16_MAX = 2**16 - 1
# Bound of a partial accumulator per unit of sum(|filter|). Some CMSIS-NN kernels sum
# (input + input_offset) * filter, at most 255 * |filter| a term. Others sum input * filter
# and input_offset * filter apart, each at most 128 * |filter| a term.
ACCUMULATOR_INPUT_BOUND = 256


# --- checkout and target ---------------------------------------------------------------


def open_cmsis_nn(target: Target, path: str | os.PathLike | None) -> CmsisNn:
    """Return the CMSIS-NN backend for ``target``, from ``path`` or $EDGEC_CMSIS_NN.

    Raises TargetError for a target that is not a Cortex-M, and EdgecError when no path is
    configured or the path is not a CMSIS-NN checkout.
    """
    if target.kind != "cortex-m":
        raise TargetError(
            f"--kernels {MODE}: target {target.name} is not a Cortex-M, and CMSIS-NN runs on "
            "Cortex-M targets only: choose one (see `edgec targets`) or use --kernels auto"
        )
    if path is not None:
        configured, option = str(path), f"--cmsis-nn {path}"
    else:
        configured = os.environ.get(ENVIRONMENT_VARIABLE, "")
        option = f"{ENVIRONMENT_VARIABLE}={configured}"
    if not configured:
        raise EdgecError(
            f"--kernels {MODE} needs a CMSIS-NN checkout: pass --cmsis-nn PATH or set "
            f"{ENVIRONMENT_VARIABLE} (git clone https://github.com/ARM-software/CMSIS-NN)"
        )
    checkout = Path(configured).expanduser().resolve()
    if not (checkout / MARKER_FILE).is_file():
        raise EdgecError(
            f"{option} is not a CMSIS-NN checkout: {MARKER_FILE} not found; give the folder "
            "that contains Include/ and Source/"
        )
    return CmsisNn(checkout, target)


def cpu_features(target: Target) -> str:
    """Return the CMSIS-NN code path the target compiles: "mve", "dsp" or "" (plain C).

    CMSIS-NN selects it from the compiler's __ARM_FEATURE_MVE and __ARM_FEATURE_DSP, which
    edgec's targets list as ``[kernels] isa``. The generated model.c checks that the two
    agree.
    """
    if "mve" in target.kernel_isas:
        return "mve"
    return "dsp" if "dsp" in target.kernel_isas else ""


# Preprocessor conditions under which CMSIS-NN compiles another code path than the one its
# buffers were sized for (model.c stops the build with #error then).
FEATURE_MISMATCH = {
    "mve": "!defined(ARM_MATH_MVEI)",
    "dsp": "!defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)",
    "": "defined(ARM_MATH_DSP) || defined(ARM_MATH_MVEI)",
}


# --- source scan -------------------------------------------------------------------------

_COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\])*\"", re.DOTALL)
# A function definition: type words at the start of a line, the name, the parameters, "{".
_DEFINITION = re.compile(r"^(?P<type>[A-Za-z_][\w\s\*]*?)\b(?P<name>arm_\w+)\s*\([^;{}]*\)\s*\{",
                         re.MULTILINE)
_CALL = re.compile(r"\b(arm_\w+)\s*\(")


@dataclass
class SourceIndex:
    """The file of Source/ that defines each external CMSIS-NN function, and the functions
    each file calls.

    The scan reads the text without the preprocessor, so a file's calls include those of
    every #if branch. ``closure`` may then return a few files that the target's code path
    does not need (arm_transpose_s8.c, which only Helium's depthwise calls, on a DSP core).
    The linker drops their unused functions (--gc-sections), but ``edgec bench``'s
    ``flash_bytes``, which sums whole objects, counts them.
    """

    owners: dict[str, str] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def scan(cls, checkout: Path) -> SourceIndex:
        """Index the .c files under ``checkout``/Source."""
        index = cls()
        for path in sorted((checkout / "Source").rglob("*.c")):
            relative = path.relative_to(checkout).as_posix()
            text = _COMMENT_OR_STRING.sub(" ", path.read_text(encoding="utf-8", errors="replace"))
            defined = set()
            for match in _DEFINITION.finditer(text):
                defined.add(match["name"])
                if "static" not in match["type"].lower():
                    index.owners.setdefault(match["name"], relative)
            index.calls[relative] = set(_CALL.findall(text)) - defined
        return index

    def closure(self, functions: Sequence[str]) -> list[str]:
        """Return the files that define ``functions`` and everything they call, sorted."""
        needed: set[str] = set()
        pending = [self.owners[name] for name in functions]
        while pending:
            path = pending.pop()
            if path in needed:
                continue
            needed.add(path)
            pending += [self.owners[name] for name in self.calls[path] if name in self.owners]
        return sorted(needed)


# --- C structs ---------------------------------------------------------------------------

# A struct value: its C type and its fields. Field values are ints or nested field dicts.
Struct = tuple[str, dict]


def _tile(w: int, h: int) -> dict:
    return {"w": int(w), "h": int(h)}


def _dims(shape: Sequence[int]) -> Struct:
    n, h, w, c = [1] * (4 - len(shape)) + [int(d) for d in shape]
    return "cmsis_nn_dims", {"n": n, "h": h, "w": w, "c": c}


def _c_initializer(value) -> str:
    """Format a field value as C: an int, or a designated initializer for a nested dict."""
    if isinstance(value, dict):
        return "{" + ", ".join(f".{k} = {_c_initializer(v)}" for k, v in value.items()) + "}"
    return str(int(value))


class _Tile(ctypes.Structure):
    _fields_ = [("w", ctypes.c_int32), ("h", ctypes.c_int32)]


class _Activation(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int32), ("max", ctypes.c_int32)]


class _Dims(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int32) for name in ("n", "h", "w", "c")]


class _ConvParams(ctypes.Structure):
    _fields_ = [
        ("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32),
        ("stride", _Tile), ("padding", _Tile), ("dilation", _Tile), ("activation", _Activation),
    ]


class _DwConvParams(ctypes.Structure):
    _fields_ = [
        ("input_offset", ctypes.c_int32), ("output_offset", ctypes.c_int32),
        ("ch_mult", ctypes.c_int32), ("stride", _Tile), ("padding", _Tile),
        ("dilation", _Tile), ("activation", _Activation),
    ]


# ctypes mirrors of the CMSIS-NN structs (arm_nn_types.h) that buffer size functions take.
_CTYPES_STRUCTS = {
    "cmsis_nn_dims": _Dims,
    "cmsis_nn_conv_params": _ConvParams,
    "cmsis_nn_dw_conv_params": _DwConvParams,
}


def _to_ctypes(structure: type[ctypes.Structure], fields: dict) -> ctypes.Structure:
    values = {}
    for name, kind in structure._fields_:
        value = fields[name]
        values[name] = _to_ctypes(kind, value) if isinstance(value, dict) else int(value)
    return structure(**values)


# --- exactness predicates ----------------------------------------------------------------


def _accumulator_bounds(node: Node, graph: Graph) -> list[int]:
    """Per output channel: the largest |partial sum| of the accumulator, bias included."""
    weights = np.abs(graph.tensors[node.inputs[1]].data.astype(np.int64))
    if node.op == "depthwise_conv2d":
        sums = weights.reshape(-1, weights.shape[-1]).sum(axis=0)
    else:
        sums = weights.reshape(weights.shape[0], -1).sum(axis=1)
    bounds = ACCUMULATOR_INPUT_BOUND * sums
    if len(node.inputs) > 2 and node.inputs[2]:
        bounds = bounds + np.abs(graph.tensors[node.inputs[2]].data.astype(np.int64))
    return [int(b) for b in bounds]


def requantized_bound(bound: int, multiplier: int, shift: int, rounding: str) -> int | None:
    """Return the largest |result| of requantizing values up to ``bound`` in CMSIS-NN.

    Returns None when ``shift`` is outside CMSIS-NN's [-31, 30] or a left shift can
    overflow int32. The double-rounding form shifts left by max(shift, 0). With single
    rounding, the Helium form (arm_requantize_mve) shifts left by max(shift + 1, 0).
    """
    if not -31 <= shift <= 30 or multiplier < 0:
        return None
    left_shift = max(shift + 1, 0) if rounding == "single" else max(shift, 0)
    if bound << left_shift > INT32_MAX:
        return None
    result = ((bound * multiplier) >> (31 - shift)) + 1
    return result if result <= INT32_MAX else None


@predicate
def requantization_exact(node: Node, graph: Graph) -> bool:
    """Return whether every channel's shift is in [-31, 30] and no int32 step of CMSIS-NN's
    arithmetic can overflow. The steps are the accumulator plus bias, the left-shifted
    accumulator, and the requantized value plus the output offset."""
    params = kernel_params(node, graph)
    limit = INT32_MAX - abs(int(params["output_offset"]))
    for bound, multiplier, shift in zip(
        _accumulator_bounds(node, graph), params.multipliers, params.shifts
    ):
        if bound > INT32_MAX:
            return False
        result = requantized_bound(bound, int(multiplier), int(shift), graph.requantize_rounding)
        if result is None or result > limit:
            return False
    return True


@predicate
def add_exact(node: Node, graph: Graph) -> bool:
    """Both inputs rescale with a shift <= 0, as arm_elementwise_add_s8 expects, and no int32
    step can overflow: the scaled inputs, their sum, the requantized sum plus the offset."""
    params = kernel_params(node, graph)
    rounding = graph.requantize_rounding
    shifted_input = MAX_CENTERED_INPUT << int(params["left_shift"])
    total = 0
    for index in (1, 2):
        shift = int(params[f"input{index}_shift"])
        scaled = requantized_bound(
            shifted_input, int(params[f"input{index}_multiplier"]), shift, rounding
        )
        if shift > 0 or scaled is None:
            return False
        total += scaled
    result = requantized_bound(
        total, int(params["output_multiplier"]), int(params["output_shift"]), rounding
    )
    limit = INT32_MAX - abs(int(params["output_offset"]))
    return total <= INT32_MAX and result is not None and result <= limit


def _window_geometry(node: Node, graph: Graph) -> list[tuple[int, int, int, int, int]]:
    """Per spatial axis (h, w): input size, output size, stride, padding before, extent."""
    in_shape = graph.tensors[node.inputs[0]].shape
    out_shape = graph.tensors[node.outputs[0]].shape
    strides = node.attrs.get("strides", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    if node.op in ("conv2d", "depthwise_conv2d"):
        kernel = graph.tensors[node.inputs[1]].shape[1:3]
        dilations = node.attrs.get("dilations", (1, 1))
    else:
        kernel, dilations = node.attrs["kernel"], (1, 1)
    return [
        (in_shape[1 + a], out_shape[1 + a], strides[a], pads[a], (kernel[a] - 1) * dilations[a] + 1)
        for a in (0, 1)
    ]


@predicate
def every_window_overlaps_input(node: Node, graph: Graph) -> bool:
    """Return whether the first and the last window of each axis contain an input element.
    CMSIS-NN's kernels take only the top and left padding, and then compute the same
    windows."""
    return all(
        before < extent and (out - 1) * stride - before < size
        for size, out, stride, before, extent in _window_geometry(node, graph)
    )


@predicate
def dims_within_uint16(node: Node, graph: Graph) -> bool:
    """Sizes, strides, padding and dilation fit the uint16_t arguments of
    arm_depthwise_conv_s8."""
    values = [*graph.tensors[node.inputs[0]].shape, *graph.tensors[node.outputs[0]].shape,
              *graph.tensors[node.inputs[1]].shape, *node.attrs.get("strides", (1, 1)),
              *node.attrs.get("pads", (0, 0, 0, 0)), *node.attrs.get("dilations", (1, 1))]
    return max(values) <= UINT16_MAX


@predicate
def per_tensor_requantization(node: Node, graph: Graph) -> bool:
    """Return whether all output channels share one multiplier and shift."""
    params = kernel_params(node, graph)
    return len(set(params.multipliers.tolist())) == 1 and len(set(params.shifts.tolist())) == 1


WEIGHTED = (int8_activations, int8_filter, filter_symmetric, requantization_exact)


# --- variants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CmsisNnVariant(Variant):
    """A CMSIS-NN function for the nodes its predicates accept.

    ``structs`` builds the C structs of a node by role. ``arguments`` builds the call's
    argument list from them, and from a ``cmsis_nn_context`` when ``takes_context``.
    ``buffer_size`` names CMSIS-NN's size function (without the _dsp or _mve suffix) and
    the roles of its arguments. ``buffer_bytes`` is the size measured for one node
    (``CmsisNn.choose`` binds it). ``kernel_sums`` marks the fully connected functions whose
    Helium buffer contains constant kernel sums instead of scratch.
    """

    structs: Callable[[Node, Graph], dict[str, Struct]] | None = None
    arguments: Callable[..., list[str]] | None = None
    buffer_size: tuple[str, tuple[str, ...]] | None = None
    buffer_bytes: int = 0
    kernel_sums: bool = False
    takes_context: bool = True

    @property
    def function(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        """Empty: CMSIS-NN sources are copied from the checkout, not from runtime_c/."""
        return ""

    def bind(self, buffer_bytes: int) -> CmsisNnVariant:
        """Return this variant for one node whose buffer measured ``buffer_bytes``."""
        scratch = 0 if self.kernel_sums else buffer_bytes
        return dataclasses.replace(
            self, buffer_bytes=buffer_bytes, scratch_bytes=lambda node, graph: scratch
        )

    def lower(self, node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
        """Return the call of this function for ``node`` (its buffer already planned)."""
        call = CmsisNnCall(node.name, node.op, self.function, [])
        call.variant = self.name
        call.reason = tuple(p.name for p in self.predicates)
        call.macs = _macs(node, graph)
        structs = self.structs(node, graph) if self.structs else {}
        pointers = {
            role: ctx.struct(call, ctype, role, {k: _c_field(v) for k, v in fields.items()})
            for role, (ctype, fields) in structs.items()
        }
        if self.takes_context:
            pointers["context"] = ctx.struct(call, "cmsis_nn_context", "context", {
                "buf": self._buffer_expression(node, graph, ctx), "size": self.buffer_bytes,
            })
        call.args = self.arguments(node, graph, ctx, call, pointers)
        return call

    def _buffer_expression(self, node: Node, graph: Graph, ctx: LoweringContext) -> str:
        if self.buffer_bytes == 0:
            return "NULL"
        if self.kernel_sums:
            sums = ctx.add_array(ctx.symbol("kernel_sums"), "int32_t", folded_bias(node, graph))
            return f"(void *){sums}"
        return ctx.scratch[node.name]


@dataclass
class CmsisNnCall(KernelCall):
    """A call of a CMSIS-NN function; model.c passes its result through ``status_adapter``."""

    status_adapter: str = STATUS_ADAPTER


def _c_field(value) -> str:
    return _c_initializer(value) if isinstance(value, dict) else str(value)


def _macs(node: Node, graph: Graph) -> int:
    """MACs of a weighted node, as edgec's lowering counts them; 0 for pools and add."""
    if node.op not in ("conv2d", "depthwise_conv2d", "fully_connected"):
        return 0
    out_size = graph.tensors[node.outputs[0]].size
    filt = graph.tensors[node.inputs[1]].shape
    if node.op == "fully_connected":
        return out_size * filt[1]
    taps = filt[1] * filt[2] * (1 if node.op == "depthwise_conv2d" else filt[3])
    return out_size * taps


CMSIS_NN_VARIANTS: list[CmsisNnVariant] = []


def register(variant: CmsisNnVariant) -> CmsisNnVariant:
    """Add ``variant`` after those already registered (earlier ones win)."""
    CMSIS_NN_VARIANTS.append(variant)
    return variant


# --- convolution -------------------------------------------------------------------------


def _activation(params) -> dict:
    return {"min": int(params["activation_min"]), "max": int(params["activation_max"])}


def _conv_structs(node: Node, graph: Graph) -> dict[str, Struct]:
    params = kernel_params(node, graph)
    strides = node.attrs.get("strides", (1, 1))
    dilations = node.attrs.get("dilations", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    in_shape = graph.tensors[node.inputs[0]].shape
    filter_shape = graph.tensors[node.inputs[1]].shape
    fields = {
        "input_offset": params["input_offset"],
        "output_offset": params["output_offset"],
        "stride": _tile(strides[1], strides[0]),
        "padding": _tile(pads[1], pads[0]),
        "dilation": _tile(dilations[1], dilations[0]),
        "activation": _activation(params),
    }
    if node.op == "depthwise_conv2d":
        # cmsis_nn_dw_conv_params: the conv fields with ch_mult after the offsets.
        offsets = {k: fields.pop(k) for k in ("input_offset", "output_offset")}
        params_struct = ("cmsis_nn_dw_conv_params",
                         {**offsets, "ch_mult": filter_shape[3] // in_shape[3], **fields})
    else:
        params_struct = ("cmsis_nn_conv_params", fields)
    return {
        "params": params_struct,
        "input_dims": _dims(in_shape),
        "filter_dims": _dims(filter_shape),
        "bias_dims": _dims((filter_shape[3 if node.op == "depthwise_conv2d" else 0],)),
        "output_dims": _dims(graph.tensors[node.outputs[0]].shape),
    }


def _per_channel_quant(node: Node, graph: Graph, ctx: LoweringContext, call: KernelCall) -> str:
    """Emit the per-channel multipliers and shifts and return their struct. CMSIS-NN's
    struct takes non-const pointers, but CMSIS-NN only reads through them."""
    params = kernel_params(node, graph)
    multipliers = ctx.add_array(ctx.symbol("multipliers"), "int32_t", params.multipliers)
    shifts = ctx.add_array(ctx.symbol("shifts"), "int32_t", params.shifts)
    return ctx.struct(call, "cmsis_nn_per_channel_quant_params", "quant", {
        "multiplier": f"(int32_t *){multipliers}", "shift": f"(int32_t *){shifts}",
    })


def _bias_array(node: Node, graph: Graph, ctx: LoweringContext) -> str:
    """Return the bias array, or an array of zeros when the node has none, because some
    CMSIS-NN kernels read the bias without checking for NULL."""
    if len(node.inputs) > 2 and node.inputs[2]:
        return ctx.constant(node.inputs[2])
    channels = graph.tensors[node.outputs[0]].shape[-1]
    return ctx.add_array(ctx.symbol("bias"), "int32_t", np.zeros(channels, dtype=np.int32))


def _conv_arguments(node, graph, ctx, call, pointers) -> list[str]:
    return [
        pointers["context"], pointers["params"], _per_channel_quant(node, graph, ctx, call),
        pointers["input_dims"], ctx.buffer(node.inputs[0], const=True),
        pointers["filter_dims"], ctx.constant(node.inputs[1]),
        pointers["bias_dims"], _bias_array(node, graph, ctx),
        pointers["output_dims"], ctx.buffer(node.outputs[0]),
    ]


_CONV_SIZE_ROLES = ("params", "input_dims", "filter_dims", "output_dims")

register(CmsisNnVariant(
    "arm_convolve_wrapper_s8", MODE, ("conv2d",), WEIGHTED + (every_window_overlaps_input,),
    in_place=False, structs=_conv_structs, arguments=_conv_arguments,
    buffer_size=("arm_convolve_wrapper_s8_get_buffer_size", _CONV_SIZE_ROLES),
))

register(CmsisNnVariant(
    "arm_depthwise_conv_wrapper_s8", MODE, ("depthwise_conv2d",),
    WEIGHTED + (every_window_overlaps_input, batch_1, dims_within_uint16),
    in_place=False, structs=_conv_structs, arguments=_conv_arguments,
    buffer_size=("arm_depthwise_conv_wrapper_s8_get_buffer_size", _CONV_SIZE_ROLES),
))


# --- fully connected ---------------------------------------------------------------------


def _fully_connected_structs(node: Node, graph: Graph) -> dict[str, Struct]:
    params = kernel_params(node, graph)
    out_depth, in_depth = graph.tensors[node.inputs[1]].shape
    rows = graph.tensors[node.inputs[0]].size // in_depth
    return {
        "params": ("cmsis_nn_fc_params", {
            "input_offset": params["input_offset"], "filter_offset": params["filter_offset"],
            "output_offset": params["output_offset"], "activation": _activation(params),
        }),
        "input_dims": _dims((rows, 1, 1, in_depth)),
        "filter_dims": _dims((in_depth, 1, 1, out_depth)),
        "bias_dims": _dims((out_depth,)),
        "output_dims": _dims((rows, 1, 1, out_depth)),
    }


def _per_tensor_quant(node: Node, graph: Graph, ctx: LoweringContext, call: KernelCall) -> str:
    params = kernel_params(node, graph)
    return ctx.struct(call, "cmsis_nn_per_tensor_quant_params", "quant", {
        "multiplier": int(params.multipliers[0]), "shift": int(params.shifts[0]),
    })


def _fully_connected_arguments(quant: Callable) -> Callable[..., list[str]]:
    def arguments(node, graph, ctx, call, pointers) -> list[str]:
        return [
            pointers["context"], pointers["params"], quant(node, graph, ctx, call),
            pointers["input_dims"], ctx.buffer(node.inputs[0], const=True),
            pointers["filter_dims"], ctx.constant(node.inputs[1]),
            pointers["bias_dims"], _bias_array(node, graph, ctx),
            pointers["output_dims"], ctx.buffer(node.outputs[0]),
        ]

    return arguments


_FC_SIZE = ("arm_fully_connected_s8_get_buffer_size", ("filter_dims",))

register(CmsisNnVariant(
    "arm_fully_connected_s8", MODE, ("fully_connected",),
    (int8_output, *WEIGHTED, per_tensor_requantization),
    in_place=False, structs=_fully_connected_structs,
    arguments=_fully_connected_arguments(_per_tensor_quant), buffer_size=_FC_SIZE,
    kernel_sums=True,
))

register(CmsisNnVariant(
    "arm_fully_connected_per_channel_s8", MODE, ("fully_connected",), (int8_output, *WEIGHTED),
    in_place=False, structs=_fully_connected_structs,
    arguments=_fully_connected_arguments(_per_channel_quant), buffer_size=_FC_SIZE,
    kernel_sums=True,
))


# --- pooling -----------------------------------------------------------------------------


def _pool_structs(node: Node, graph: Graph) -> dict[str, Struct]:
    params = kernel_params(node, graph)
    kernel = node.attrs["kernel"]
    strides = node.attrs.get("strides", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    return {
        "params": ("cmsis_nn_pool_params", {
            "stride": _tile(strides[1], strides[0]), "padding": _tile(pads[1], pads[0]),
            "activation": _activation(params),
        }),
        "input_dims": _dims(graph.tensors[node.inputs[0]].shape),
        "filter_dims": _dims((1, kernel[0], kernel[1], 1)),
        "output_dims": _dims(graph.tensors[node.outputs[0]].shape),
    }


def _pool_arguments(node, graph, ctx, call, pointers) -> list[str]:
    return [
        pointers["context"], pointers["params"],
        pointers["input_dims"], ctx.buffer(node.inputs[0], const=True),
        pointers["filter_dims"], pointers["output_dims"], ctx.buffer(node.outputs[0]),
    ]


POOLED = (int8_activations, every_window_overlaps_input)

register(CmsisNnVariant(
    "arm_avgpool_s8", MODE, ("average_pool2d",), POOLED, in_place=False,
    structs=_pool_structs, arguments=_pool_arguments,
    buffer_size=("arm_avgpool_s8_get_buffer_size", ("output_dims.w", "input_dims.c")),
))

register(CmsisNnVariant(
    "arm_max_pool_s8", MODE, ("max_pool2d",), POOLED, in_place=False,
    structs=_pool_structs, arguments=_pool_arguments,
))


# --- elementwise add ---------------------------------------------------------------------


def _add_arguments(node, graph, ctx, call, pointers) -> list[str]:
    """arm_elementwise_add_s8 takes the buffers and scalars only."""
    params = kernel_params(node, graph)
    scalars = [str(int(params[k])) for k in (
        "input1_offset", "input1_multiplier", "input1_shift",
        "input2_offset", "input2_multiplier", "input2_shift", "left_shift",
    )]
    out = [str(int(params[k])) for k in (
        "output_offset", "output_multiplier", "output_shift", "activation_min", "activation_max",
    )]
    return [
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.inputs[1], const=True),
        *scalars, ctx.buffer(node.outputs[0]), *out,
        str(graph.tensors[node.outputs[0]].size),
    ]


# NOTE: the DSP path of arm_elementwise_add_s8 shifts the zero-extended 16-bit value of
# input + offset left by 20 in int32, which overflows for a negative value. GCC's LSL wraps
# it to the value edgec computes (the kernel-case tests check this); other compilers may not.
register(CmsisNnVariant(
    "arm_elementwise_add_s8", MODE, ("add",),
    (int8_output, int8_activations, same_shape_inputs, add_exact),
    in_place=False, arguments=_add_arguments, takes_context=False,
))


# --- the backend -------------------------------------------------------------------------


class CmsisNn:
    """One CMSIS-NN checkout used for one target.

    ``choose`` picks the CMSIS-NN function of each node and fills ``rejected`` (node name ->
    reason) for the nodes of a supported op that it leaves to edgec.
    """

    def __init__(self, checkout: Path, target: Target) -> None:
        self.checkout = checkout
        self.target = target
        self.features = cpu_features(target)
        self.rejected: dict[str, str] = {}
        self._index: SourceIndex | None = None

    @property
    def index(self) -> SourceIndex:
        if self._index is None:
            self._index = SourceIndex.scan(self.checkout)
        return self._index

    @property
    def version(self) -> str:
        """The $Revision of arm_nnfunctions.h (for example "V.19.1.0"), or "" when absent."""
        text = (self.checkout / MARKER_FILE).read_text(encoding="utf-8", errors="replace")
        match = re.search(r"\$Revision:\s*(\S+)", text)
        return match.group(1) if match else ""

    @property
    def feature_mismatch(self) -> str:
        return FEATURE_MISMATCH[self.features]

    @property
    def status_adapter(self) -> str:
        return STATUS_ADAPTER

    def choose(self, nodes: list[Node], graph: Graph, variants: dict[str, Variant]
               ) -> dict[str, Variant]:
        """Return ``variants`` with every node that CMSIS-NN computes exactly given to it,
        each bound to its measured buffer size."""
        chosen = {}
        for node in nodes:
            variant = self._choose_node(node, graph)
            if variant is not None:
                chosen[node.name] = (node, variant)
        sizes = self._buffer_sizes(list(chosen.values()), graph)
        result = dict(variants)
        for (name, (_, variant)), size in zip(chosen.items(), sizes):
            result[name] = variant.bind(size)
        return result

    def _choose_node(self, node: Node, graph: Graph) -> CmsisNnVariant | None:
        reasons = []
        for variant in CMSIS_NN_VARIANTS:
            if node.op not in variant.ops:
                continue
            failed = _first_failed(variant.predicates, node, graph)
            if failed is None and variant.function not in self.index.owners:
                failed = f"{self.checkout} does not define {variant.function}"
            if failed is None:
                return variant
            reasons.append(f"{variant.function}: {failed}")
        if reasons:
            self.rejected[node.name] = "; ".join(reasons)
        return None

    def _buffer_sizes(self, chosen: list[tuple[Node, CmsisNnVariant]], graph: Graph) -> list[int]:
        """Measure each call's buffer with CMSIS-NN's size functions for the target's CPU."""
        requests = []
        for node, variant in chosen:
            if variant.buffer_size is None:
                requests.append(None)
                continue
            function, roles = variant.buffer_size
            structs = variant.structs(node, graph)
            suffix = f"_{self.features}" if self.features else ""
            requests.append((function + suffix, [_size_argument(structs, r) for r in roles]))
        functions = sorted({r[0] for r in requests if r is not None})
        if not functions:
            return [0] * len(requests)
        with _host_size_library(self.checkout, self.index, functions) as library:
            return [0 if r is None else _call_size(library, *r) for r in requests]

    def sources(self, calls: list[KernelCall]) -> list[str]:
        """Return the sources that the CMSIS-NN calls need, relative to the checkout."""
        functions = sorted({c.function for c in calls if isinstance(c, CmsisNnCall)})
        return self.index.closure(functions)

    def defines(self, graph: Graph) -> tuple[str, ...]:
        """Preprocessor definitions for the project: single rounding when the graph uses it."""
        return ("CMSIS_NN_USE_SINGLE_ROUNDING=1",) if graph.requantize_rounding == "single" else ()

    @property
    def include_dir(self) -> str:
        return f"{PROJECT_DIR}/Include"

    def copy_into(self, project_dir: Path, calls: list[KernelCall]) -> list[str]:
        """Copy LICENSE, Include/ and the needed sources into ``project_dir``/kernels/cmsis-nn;
        return the copied C sources relative to the project."""
        destination = project_dir / PROJECT_DIR
        files = [path.relative_to(self.checkout).as_posix()
                 for path in sorted((self.checkout / "Include").rglob("*.h"))]
        sources = self.sources(calls)
        license_file = self.checkout / "LICENSE"
        for relative in files + sources + (["LICENSE"] if license_file.is_file() else []):
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.checkout / relative, target)
        return [f"{PROJECT_DIR}/{relative}" for relative in sources]


def _first_failed(predicates: Sequence[Predicate], node: Node, graph: Graph) -> str | None:
    """Return "<name> does not hold" for the first predicate that fails, else None."""
    for check in predicates:
        if not check(node, graph):
            return f"{check.name} does not hold"
    return None


def _size_argument(structs: dict[str, Struct], role: str):
    """Return the struct of ``role``, or one int field of it for a role such as
    "output_dims.w"."""
    if "." in role:
        name, key = role.split(".")
        return int(structs[name][1][key])
    return structs[role]


def _call_size(library: ctypes.CDLL, function: str, arguments: list) -> int:
    values = []
    for argument in arguments:
        if isinstance(argument, int):
            values.append(ctypes.c_int32(argument))
        else:
            ctype, fields = argument
            values.append(ctypes.byref(_to_ctypes(_CTYPES_STRUCTS[ctype], fields)))
    size_function = getattr(library, function)
    size_function.restype = ctypes.c_int32
    size = int(size_function(*values))
    if size < 0:
        raise EdgecError(f"CMSIS-NN's {function} returned {size}, a negative buffer size")
    return size


@contextlib.contextmanager
def _host_size_library(checkout: Path, index: SourceIndex, functions: list[str]
                       ) -> Iterator[ctypes.CDLL]:
    """Yield CMSIS-NN's buffer size ``functions`` built for the host and loaded.

    The library file lives in a temporary folder that is removed on exit (the loaded library
    stays mapped until the process ends).
    """
    missing = [name for name in functions if name not in index.owners]
    if missing:
        raise EdgecError(
            f"CMSIS-NN at {checkout} does not define {', '.join(missing)}; use a CMSIS-NN "
            f"release that has them (edgec was checked with {CHECKED_RELEASES})"
        )
    host = load_target(HOST_TARGET)
    compiler = shutil.which(host.cc)
    if compiler is None:
        raise ToolchainError(
            f"{host.cc} not found: --kernels {MODE} builds CMSIS-NN's buffer size functions "
            f"for this machine; install the Debian package {host.compiler_package}"
        )
    with tempfile.TemporaryDirectory(prefix="edgec-cmsis-nn-") as folder:
        library = Path(folder) / "libcmsis_nn_sizes.so"
        sources = [str(checkout / s) for s in index.closure(functions)]
        command = [compiler, "-shared", "-fPIC", "-O1", "-std=c99",
                   f"-I{checkout / 'Include'}", *sources, "-o", str(library)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-10:])
            raise EdgecError(
                f"cannot build CMSIS-NN's buffer size functions from {checkout} for this "
                f"machine ({host.cc} exit status {result.returncode}); edgec was checked with "
                f"CMSIS-NN {CHECKED_RELEASES}:\n{tail}"
            )
        yield ctypes.CDLL(str(library))
