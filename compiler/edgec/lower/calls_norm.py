"""Kernel calls of layer_norm and l2_normalize (registered with ``@lowers``).

Where it sits: ``edgec.lower.calls.lower_node`` calls these builders for quantized nodes. The
integers come from ``edgec.lower.params_norm`` (the reference interpreter reads the same
ones), and the C API is runtime_c/include/edgec/kernels_norm.h. Both kernels view the input
as [rows, depth] with depth the last axis. layer_norm's float gamma and beta constants are
not emitted: their integer forms become three per-channel arrays.
"""

from __future__ import annotations

from edgec.ir import Graph, Node
from edgec.lower.calls import KernelCall, LoweringContext, lowers
from edgec.lower.params import kernel_params

# layer_norm kernel by (input type, output type). params_norm rejects every other pair.
LAYER_NORM_KERNELS = {
    ("int8", "int8"): "edgec_layer_norm_s8",
    ("int16", "int8"): "edgec_layer_norm_s16",
    ("int8", "int16"): "edgec_layer_norm_s8_s16",
    ("int16", "int16"): "edgec_layer_norm_s16_s16",
}


def _rows(graph: Graph, name: str) -> int:
    tensor = graph.tensors[name]
    return tensor.size // tensor.shape[-1]


@lowers("layer_norm")
def _layer_norm(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    source = node.inputs[0]
    types = (graph.tensors[source].dtype, graph.tensors[node.outputs[0]].dtype)
    function = LAYER_NORM_KERNELS[types]
    call = KernelCall(node.name, node.op, function, [])
    channels = {
        "multipliers": ctx.add_array(ctx.symbol("multipliers"), "int32_t", params.multipliers),
        "right_shifts": ctx.add_array(ctx.symbol("right_shifts"), "int32_t", params.shifts),
        "offsets": ctx.add_array(ctx.symbol("offsets"), "int64_t", params.offsets),
    }
    call.args = [
        ctx.struct(call, "edgec_layer_norm_params", "params", dict(params.values)),
        ctx.struct(call, "edgec_layer_norm_channels", "channels", channels),
        str(_rows(graph, source)),
        ctx.buffer(source, const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("l2_normalize")
def _l2_normalize(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    source = node.inputs[0]
    call = KernelCall(node.name, node.op, "edgec_l2_normalize_s8", [])
    call.args = [
        str(params["input_offset"]),
        str(_rows(graph, source)),
        str(graph.tensors[source].shape[-1]),
        ctx.buffer(source, const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call
