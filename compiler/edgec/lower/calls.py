"""Lowering of quantized IR nodes to C kernel calls.

Each op registers one builder with ``@lowers("op")``. A builder receives the node, the graph
and a ``LoweringContext`` and returns a ``KernelCall``: the C function to call, the constant
parameter structs and arrays it needs (all values computed here, in Python), and the C
argument expressions. The Jinja2 templates only print these plans. The integer parameters
come from ``edgec.lower.params``, the same source the reference interpreter uses.

A conv2d, depthwise_conv2d or fully_connected node with an int4 filter calls the ``*_s8_s4``
kernel: its filter becomes a uint8 array packed by ``edgec.quantize.params.pack_int4``, and
its group multipliers (per-group layers) a second uint8 array.

A 16x8 node (int16 input, see ``edgec.lower.params``) calls the ``*_s16`` kernel with an
int64 bias (an int32 bias is widened), and a ``quantize`` between int8 and int16 calls
``edgec_requantize_s8_s16`` or ``edgec_requantize_s16_s8``. A fully_connected node with an
int8 input and an int16 output calls ``edgec_fully_connected_s8_s16`` (int4 filter:
``edgec_fully_connected_s8_s4_s16``) with the int32 bias, and an int16 add calls
``edgec_add_s16``. Buffer expressions are cast to the tensor's C type, so int16 tensors in
the int8 arena are passed as ``int16_t *``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgec.errors import UnsupportedAttributeError, UnsupportedOperatorError
from edgec.ir import Graph, Node
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.lower.params import kernel_params
from edgec.lower.variants import Variant, folded_bias, rejection_reasons
from edgec.quantize.params import pack_int4

CTYPES = {
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "float32": "float",
}

# Requantize kernels by (input dtype, output dtype).
REQUANTIZE_KERNELS = {
    ("int8", "int8"): "edgec_requantize_s8",
    ("int8", "int16"): "edgec_requantize_s8_s16",
    ("int16", "int8"): "edgec_requantize_s16_s8",
}


@dataclass
class CArray:
    """A ``static const`` C array: weights, bias, per-channel multipliers or shifts."""

    name: str
    ctype: str
    values: np.ndarray


@dataclass
class CStruct:
    """A ``static const`` C struct initialised field by field."""

    ctype: str
    name: str
    fields: list[tuple[str, str]]


@dataclass
class KernelCall:
    """One step of ``model_invoke``: a kernel call with its constant arguments."""

    node: str
    op: str
    function: str
    args: list[str]
    structs: list[CStruct] = field(default_factory=list)
    locals: list[CStruct] = field(default_factory=list)  # declared inside model_invoke
    returns_status: bool = True
    macs: int = 0
    # Runtime source that defines ``function``, relative to runtime_c/ (empty for memmove).
    source: str = ""
    # Argument index of the filter and the bias (weighted ops), for kernel variants.
    roles: dict[str, int] = field(default_factory=dict)
    # The optimized variant called instead of the reference kernel, and the predicates
    # that allowed it (edgec.lower.variants).
    variant: str = ""
    reason: tuple[str, ...] = ()
    # For a reference call: each variant of the op on the target, with the first of its
    # predicates that does not hold.
    rejected: tuple[str, ...] = ()


class LoweringContext:
    """Names C symbols and maps tensors to buffer expressions for one model."""

    def __init__(self, graph: Graph, prefix: str, buffers: dict[str, str]):
        self.graph = graph
        self.prefix = prefix
        self.buffers = buffers  # tensor name -> C pointer expression (int8_t *)
        self.arrays: dict[str, CArray] = {}
        self.scratch: dict[str, str] = {}  # node name -> C pointer expression of its scratch
        self.isas: tuple[str, ...] = ()  # the extensions the kernel variants may use
        self._constant_symbols: dict[str, str] = {}
        self.index = 0

    def symbol(self, suffix: str) -> str:
        return f"{self.prefix}_n{self.index}_{suffix}"

    def buffer(self, name: str, const: bool = False) -> str:
        """Return the C pointer expression of tensor ``name`` (``const`` for a kernel input)."""
        if name in self._constant_symbols or self.graph.tensors[name].is_constant:
            return self.constant(name)
        expr = self.buffers[name]
        ctype = CTYPES[self.graph.tensors[name].dtype]
        if expr.startswith("(in "):
            if not const:
                raise ValueError(f"tensor '{name}' is a model input and cannot be written")
            # `in` is a const int8_t pointer, so an int32 input (token ids, a mask) needs a cast.
            return expr if ctype == "int8_t" else f"(const {ctype} *)(const void *){expr}"
        if ctype != "int8_t":
            # The arena is int8_t; planned offsets are multiples of 16, so the cast is aligned.
            if const:
                return f"(const {ctype} *)(const void *){expr}"
            return f"({ctype} *)(void *){expr}"
        return f"(const int8_t *){expr}" if const else expr

    def constant(self, name: str) -> str:
        """Emit the constant tensor ``name`` once and return its C symbol."""
        if name not in self._constant_symbols:
            tensor = self.graph.tensors[name]
            symbol = f"{self.prefix}_const{len(self._constant_symbols)}"
            self._constant_symbols[name] = symbol
            self.add_array(symbol, CTYPES[tensor.dtype], tensor.data.ravel())
        return self._constant_symbols[name]

    def int4_filter(self, name: str, axis: int) -> tuple[str, str, str]:
        """Emit the int4 filter ``name`` (channel axis ``axis``) once, packed for C.

        Returns the C expressions of the packed array, the group size and the group
        multiplier array (``"0"`` and ``"NULL"`` for a per-channel filter).
        """
        if name not in self._constant_symbols:
            tensor = self.graph.tensors[name]
            symbol = f"{self.prefix}_const{len(self._constant_symbols)}"
            self._constant_symbols[name] = symbol
            self.add_array(symbol, "uint8_t", pack_int4(tensor.data, axis))
            if tensor.quant.per_group:
                self.add_array(f"{symbol}_groups", "uint8_t", tensor.quant.group_multipliers)
        symbol = self._constant_symbols[name]
        quant = self.graph.tensors[name].quant
        if not quant.per_group:
            return symbol, "0", "NULL"
        return symbol, str(quant.group_size), f"{symbol}_groups"

    def add_array(self, symbol: str, ctype: str, values: np.ndarray) -> str:
        self.arrays[symbol] = CArray(symbol, ctype, np.asarray(values).ravel())
        return symbol

    def struct(self, call: KernelCall, ctype: str, suffix: str, fields: dict) -> str:
        name = self.symbol(suffix)
        call.structs.append(CStruct(ctype, name, [(k, _c_value(v)) for k, v in fields.items()]))
        return f"&{name}"


def _c_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(_c_value(v) for v in value) + "}"
    if isinstance(value, str):
        return value
    return str(int(value))


Builder = Callable[[Node, Graph, LoweringContext], KernelCall]
BUILDERS: dict[str, Builder] = {}


def lowers(*ops: str) -> Callable[[Builder], Builder]:
    def wrap(fn: Builder) -> Builder:
        for op in ops:
            BUILDERS[op] = fn
        return fn

    return wrap


def check_supported(graph: Graph, nodes: list[Node]) -> None:
    """Raise one error listing every node that has no C kernel."""
    missing = [f"{n.name} ({n.op})" for n in nodes if n.op not in BUILDERS]
    if missing:
        raise UnsupportedOperatorError(
            f"no C kernel for {len(missing)} node(s): {', '.join(missing)}"
        )


def lower_node(
    node: Node, graph: Graph, ctx: LoweringContext, variant: Variant | None = None
) -> KernelCall:
    """Lower ``node`` to its reference kernel call, or to ``variant``'s when one is given."""
    call = BUILDERS[node.op](node, graph, ctx)
    if call.function.startswith("edgec_"):
        call.source = f"kernels/ref/{call.function.removeprefix('edgec_')}.c"
    if variant is not None:
        _apply_variant(call, variant, node, graph, ctx)
    elif call.function.startswith("edgec_"):
        call.rejected = tuple(rejection_reasons(node, graph, ctx.isas))
    return call


def _apply_variant(
    call: KernelCall, variant: Variant, node: Node, graph: Graph, ctx: LoweringContext
) -> None:
    """Turn the reference call into ``variant``'s: its function, filter, bias and scratch."""
    call.function, call.source = variant.function, variant.source
    call.variant = variant.name
    call.reason = tuple(p.name for p in variant.predicates)
    if variant.arrange_filter is not None:
        arranged = variant.arrange_filter(node, graph)
        call.args[call.roles["filter"]] = ctx.add_array(ctx.symbol("filter"), "int8_t", arranged)
    if variant.folds_input_offset:
        bias = folded_bias(node, graph)
        call.args[call.roles["bias"]] = ctx.add_array(ctx.symbol("bias"), "int32_t", bias)
    if "filter" in call.roles or variant.scratch_bytes is not None:
        call.args.append(ctx.scratch.get(node.name, "NULL"))


def _dims4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) > 4:
        raise UnsupportedAttributeError(f"tensor rank {len(shape)} > 4 is not supported")
    return tuple([1] * (4 - len(shape)) + list(shape))


def _dims_struct(ctx: LoweringContext, call: KernelCall, suffix: str, shape) -> str:
    n, h, w, c = _dims4(tuple(shape))
    return ctx.struct(call, "edgec_dims", suffix, {"n": n, "h": h, "w": w, "c": c})


def _quant_struct(ctx: LoweringContext, call: KernelCall, params) -> str:
    multipliers = ctx.add_array(ctx.symbol("multipliers"), "int32_t", params.multipliers)
    shifts = ctx.add_array(ctx.symbol("shifts"), "int32_t", params.shifts)
    return ctx.struct(
        call, "edgec_per_channel_quant", "quant",
        {"multipliers": multipliers, "shifts": shifts},
    )


def _bias(node: Node, ctx: LoweringContext) -> str:
    if len(node.inputs) > 2 and node.inputs[2]:
        return ctx.constant(node.inputs[2])
    return "NULL"


def _is_16x8(graph: Graph, node: Node) -> bool:
    return graph.tensors[node.inputs[0]].dtype == "int16"


def _bias_int64(node: Node, graph: Graph, ctx: LoweringContext) -> str:
    """Return the int64 bias array of a 16x8 node, widening an int32 bias once."""
    if not (len(node.inputs) > 2 and node.inputs[2]):
        return "NULL"
    tensor = graph.tensors[node.inputs[2]]
    if tensor.dtype == "int64":
        return ctx.constant(tensor.name)
    return ctx.add_array(ctx.symbol("bias64"), "int64_t", tensor.data.astype(np.int64))


def _shape(graph: Graph, name: str) -> tuple[int, ...]:
    return graph.tensors[name].shape


def _is_int4(graph: Graph, name: str) -> bool:
    return graph.tensors[name].dtype == "int4"


def _filter_args(node: Node, graph: Graph, ctx: LoweringContext) -> list[str]:
    """Return the filter arguments: the int8 array, or the packed int4 array, the group size
    and the group multipliers."""
    if _is_int4(graph, node.inputs[1]):
        return list(ctx.int4_filter(node.inputs[1], FILTER_CHANNEL_AXIS[node.op]))
    return [ctx.constant(node.inputs[1])]


@lowers("conv2d", "depthwise_conv2d")
def _conv(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    depthwise = node.op == "depthwise_conv2d"
    function = "edgec_depthwise_conv2d_s8" if depthwise else "edgec_conv2d_s8"
    if _is_int4(graph, node.inputs[1]):
        function += "_s4"
    if _is_16x8(graph, node):
        function = "edgec_depthwise_conv2d_s16" if depthwise else "edgec_conv2d_s16"
    call = KernelCall(node.name, node.op, function, [])

    strides = node.attrs.get("strides", (1, 1))
    dilations = node.attrs.get("dilations", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    in_shape, w_shape = _shape(graph, node.inputs[0]), _shape(graph, node.inputs[1])
    out_shape = _shape(graph, node.outputs[0])
    fields = {
        "input_offset": params["input_offset"],
        "filter_offset": params["filter_offset"],
        "output_offset": params["output_offset"],
        "stride_h": strides[0], "stride_w": strides[1],
        "dilation_h": dilations[0], "dilation_w": dilations[1],
        "pad_top": pads[0], "pad_left": pads[1],
        "depth_multiplier": w_shape[3] // in_shape[3] if depthwise else 1,
        "activation_min": params["activation_min"],
        "activation_max": params["activation_max"],
    }

    call.args = [
        ctx.struct(call, "edgec_conv_params", "params", fields),
        _quant_struct(ctx, call, params),
        _dims_struct(ctx, call, "input_dims", in_shape),
        ctx.buffer(node.inputs[0], const=True),
        _dims_struct(ctx, call, "filter_dims", w_shape),
        *_filter_args(node, graph, ctx),
        _bias_int64(node, graph, ctx) if _is_16x8(graph, node) else _bias(node, ctx),
        _dims_struct(ctx, call, "output_dims", out_shape),
        ctx.buffer(node.outputs[0]),
    ]
    call.roles = {"filter": 5, "bias": 6}

    taps = w_shape[1] * w_shape[2] * (1 if depthwise else w_shape[3])
    call.macs = int(np.prod(out_shape)) * taps
    return call


@lowers("fully_connected")
def _fully_connected(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    out_depth, in_depth = _shape(graph, node.inputs[1])
    rows = graph.tensors[node.inputs[0]].size // in_depth
    function = "edgec_fully_connected_s8"
    if _is_int4(graph, node.inputs[1]):
        function += "_s4"
    if _is_16x8(graph, node):
        function = "edgec_fully_connected_s16"
    elif graph.tensors[node.outputs[0]].dtype == "int16":
        function += "_s16"  # int8 input, int16 output: the residual stream of a transformer
    call = KernelCall(node.name, node.op, function, [])
    fields = {k: params[k] for k in (
        "input_offset", "filter_offset", "output_offset", "activation_min", "activation_max"
    )}
    call.args = [
        ctx.struct(call, "edgec_fc_params", "params", fields),
        _quant_struct(ctx, call, params),
        str(rows), str(in_depth), ctx.buffer(node.inputs[0], const=True),
        str(out_depth), *_filter_args(node, graph, ctx),
        _bias_int64(node, graph, ctx) if _is_16x8(graph, node) else _bias(node, ctx),
        ctx.buffer(node.outputs[0]),
    ]
    call.roles = {"filter": 6, "bias": 7}
    call.macs = rows * in_depth * out_depth
    return call


@lowers("average_pool2d", "max_pool2d")
def _pool(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    function = "edgec_avg_pool2d_s8" if node.op == "average_pool2d" else "edgec_max_pool2d_s8"
    call = KernelCall(node.name, node.op, function, [])
    kernel = node.attrs["kernel"]
    strides = node.attrs.get("strides", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    fields = {
        "filter_h": kernel[0], "filter_w": kernel[1],
        "stride_h": strides[0], "stride_w": strides[1],
        "pad_top": pads[0], "pad_left": pads[1],
        "activation_min": params["activation_min"], "activation_max": params["activation_max"],
    }
    call.args = [
        ctx.struct(call, "edgec_pool_params", "params", fields),
        _dims_struct(ctx, call, "input_dims", _shape(graph, node.inputs[0])),
        ctx.buffer(node.inputs[0], const=True),
        _dims_struct(ctx, call, "output_dims", _shape(graph, node.outputs[0])),
        ctx.buffer(node.outputs[0]),
    ]
    return call


def _broadcast_fields(graph: Graph, node: Node) -> dict:
    out_shape = _dims4(_shape(graph, node.outputs[0]))
    fields = {"shape": out_shape}
    for key, name in (("input1_strides", node.inputs[0]), ("input2_strides", node.inputs[1])):
        in_shape = _dims4(_shape(graph, name))
        strides, step = [0, 0, 0, 0], 1
        for axis in range(3, -1, -1):
            strides[axis] = 0 if in_shape[axis] == 1 and out_shape[axis] != 1 else step
            step *= in_shape[axis]
        fields[key] = strides
    return fields


@lowers("add", "sub")
def _add(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    if graph.tensors[node.outputs[0]].dtype == "int16":
        return _add_int16(node, graph, ctx, params)
    call = KernelCall(node.name, node.op, "edgec_add_s8", [])
    call.args = [
        ctx.struct(call, "edgec_add_params", "params", dict(params.values)),
        "1" if node.op == "add" else "-1",
        ctx.struct(call, "edgec_broadcast", "broadcast", _broadcast_fields(graph, node)),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call


def _add_int16(node: Node, graph: Graph, ctx: LoweringContext, params) -> KernelCall:
    """Lower an int16 add (same shapes, checked by ``kernel_params``) to edgec_add_s16."""
    call = KernelCall(node.name, node.op, "edgec_add_s16", [])
    call.args = [
        ctx.struct(call, "edgec_add_params", "params", dict(params.values)),
        str(graph.tensors[node.outputs[0]].size),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("mul")
def _mul(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    call = KernelCall(node.name, node.op, "edgec_mul_s8", [])
    call.args = [
        ctx.struct(call, "edgec_mul_params", "params", dict(params.values)),
        ctx.struct(call, "edgec_broadcast", "broadcast", _broadcast_fields(graph, node)),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("mean")
def _mean(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    in_shape = _shape(graph, node.inputs[0])
    extra = 4 - len(in_shape)
    reduce = [0] * 4
    for axis in node.attrs["axes"]:
        reduce[axis % len(in_shape) + extra] = 1
    call = KernelCall(node.name, node.op, "edgec_mean_s8", [])
    call.args = [
        ctx.struct(call, "edgec_mean_params", "params", dict(params.values)),
        ctx.add_array(ctx.symbol("shape"), "int32_t", np.array(_dims4(in_shape))),
        ctx.add_array(ctx.symbol("axes"), "int32_t", np.array(reduce)),
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("softmax")
def _softmax(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    out = graph.tensors[node.outputs[0]]
    if out.dtype != "int8" or not (
        out.quant.scale[0] == np.float32(1 / 256) and out.quant.zero_point[0] == -128
    ):
        raise UnsupportedAttributeError(
            f"node '{node.name}' (softmax): int8 softmax needs output scale 1/256 and "
            f"zero point -128, got {out.quant.scale[0]:g} and {out.quant.zero_point[0]}"
        )
    # Imported here: the attention module imports this one.
    from edgec.lower.calls_attention import masked_softmax_call
    from edgec.lower.params_attention import uses_masked_softmax_kernel

    if uses_masked_softmax_kernel(node, graph):
        return masked_softmax_call(node, graph, ctx, params)
    depth = out.shape[-1]
    call = KernelCall(node.name, node.op, "edgec_softmax_s8", [])
    call.args = [
        ctx.struct(call, "edgec_softmax_params", "params", dict(params.values)),
        str(out.size // depth), str(depth),
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("reshape")
def _reshape(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    size = graph.tensors[node.outputs[0]].nbytes
    if ctx.buffers.get(node.outputs[0]) == ctx.buffers.get(node.inputs[0]):
        # The planner made the output a view of the input: nothing to run.
        return KernelCall(node.name, node.op, "", [], returns_status=False)
    call = KernelCall(node.name, node.op, "memmove", [], returns_status=False)
    call.args = [ctx.buffer(node.outputs[0]), ctx.buffer(node.inputs[0], const=True), str(size)]
    return call


@lowers("quantize")
def _requantize(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    if graph.tensors[node.inputs[0]].dtype == "float32":
        raise UnsupportedOperatorError(
            f"node '{node.name}': float quantize inside the graph; only graph inputs may be float"
        )
    dtypes = (graph.tensors[node.inputs[0]].dtype, graph.tensors[node.outputs[0]].dtype)
    if dtypes not in REQUANTIZE_KERNELS:
        raise UnsupportedAttributeError(
            f"node '{node.name}' (quantize): no kernel converts {dtypes[0]} to {dtypes[1]}; "
            f"supported: {', '.join(f'{a} to {b}' for a, b in REQUANTIZE_KERNELS)}"
        )
    params = kernel_params(node, graph)
    call = KernelCall(node.name, node.op, REQUANTIZE_KERNELS[dtypes], [])
    call.args = [
        ctx.struct(call, "edgec_requantize_params", "params", dict(params.values)),
        str(graph.tensors[node.outputs[0]].size),
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("clip")
def _clip(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    if "output_multiplier" in params.values:
        # Input and output quantization differ: requantize with the clamp as its range.
        call = KernelCall(node.name, node.op, "edgec_requantize_s8", [])
        call.args = [
            ctx.struct(call, "edgec_requantize_params", "params", dict(params.values)),
            str(graph.tensors[node.outputs[0]].size),
            ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
        ]
        return call
    call = KernelCall(node.name, node.op, "edgec_clip_s8", [])
    call.args = [
        str(params["activation_min"]), str(params["activation_max"]),
        str(graph.tensors[node.outputs[0]].size),
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("transpose")
def _transpose(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    in_shape = _shape(graph, node.inputs[0])
    extra = 4 - len(in_shape)
    perm = list(range(extra)) + [p + extra for p in node.attrs["perm"]]
    call = KernelCall(node.name, node.op, "edgec_transpose_s8", [])
    shape_symbol = ctx.add_array(ctx.symbol("shape"), "int32_t", np.array(_dims4(in_shape)))
    perm_symbol = ctx.add_array(ctx.symbol("perm"), "int32_t", np.array(perm))
    call.args = [
        shape_symbol, perm_symbol,
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("concat")
def _concat(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    out_shape = _shape(graph, node.outputs[0])
    axis = node.attrs["axis"] % len(out_shape)
    outer = int(np.prod(out_shape[:axis], dtype=np.int64))
    inner = int(np.prod(out_shape[axis + 1 :], dtype=np.int64))
    sizes = [_shape(graph, name)[axis] * inner for name in node.inputs]
    for name in node.inputs:
        if not graph.tensors[name].quant.same_as(graph.tensors[node.outputs[0]].quant):
            raise UnsupportedAttributeError(
                f"node '{node.name}' (concat): input '{name}' has a different quantization "
                "than the output; requantize it first"
            )
    call = KernelCall(node.name, node.op, "edgec_concat_s8", [])
    pointers = ctx.symbol("inputs")
    # A local array: graph-input pointers are not constant expressions.
    call.locals.append(CStruct(
        "const int8_t *const", pointers,
        [("", ctx.buffer(name, const=True)) for name in node.inputs],
    ))
    call.args = [
        str(outer), str(len(node.inputs)), pointers,
        ctx.add_array(ctx.symbol("sizes"), "int32_t", np.array(sizes)),
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("pad")
def _pad(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    in_shape = _shape(graph, node.inputs[0])
    extra = 4 - len(in_shape)
    pads = [(0, 0)] * extra + [tuple(p) for p in node.attrs["pads"]]
    zero_point = int(graph.tensors[node.inputs[0]].quant.zero_point[0])
    call = KernelCall(node.name, node.op, "edgec_pad_s8", [])
    call.args = [
        ctx.add_array(ctx.symbol("shape"), "int32_t", np.array(_dims4(in_shape))),
        ctx.add_array(ctx.symbol("before"), "int32_t", np.array([p[0] for p in pads])),
        ctx.add_array(ctx.symbol("after"), "int32_t", np.array([p[1] for p in pads])),
        str(zero_point),
        ctx.buffer(node.inputs[0], const=True), ctx.buffer(node.outputs[0]),
    ]
    return call


# The transformer ops register themselves from their own modules.
import edgec.lower.calls_attention
import edgec.lower.calls_matmul
import edgec.lower.calls_norm  # noqa: F401
