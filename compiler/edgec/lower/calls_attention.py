"""Kernel calls of the attention ops: softmax with an int16 input or a mask, and gelu
(``edgec_gelu_s8`` by table, ``edgec_gelu_s16_s8`` by polynomial).

Where it sits: ``edgec.lower.calls`` lowers an int8 softmax without a mask to
``edgec_softmax_s8`` and hands every other softmax to ``masked_softmax_call`` here. Gelu
registers its builder with ``@lowers``. The integer parameters come from
``edgec.lower.params`` (``edgec.lower.params_attention`` for the gelu table).
"""

from __future__ import annotations

from edgec.ir import Graph, Node
from edgec.lower.calls import KernelCall, LoweringContext, lowers
from edgec.lower.params import KernelParams, kernel_params
from edgec.lower.params_attention import softmax_mask_name

# Masked or int16 softmax kernels by input dtype. Both take a mask pointer (NULL for none).
MASKED_SOFTMAX_KERNELS = {"int8": "edgec_softmax_masked_s8", "int16": "edgec_softmax_s16_s8"}


def masked_softmax_call(
    node: Node, graph: Graph, ctx: LoweringContext, params: KernelParams
) -> KernelCall:
    """Build the call of ``edgec_softmax_masked_s8`` or ``edgec_softmax_s16_s8``."""
    out = graph.tensors[node.outputs[0]]
    depth = out.shape[-1]
    function = MASKED_SOFTMAX_KERNELS[graph.tensors[node.inputs[0]].dtype]
    mask = softmax_mask_name(node)
    call = KernelCall(node.name, node.op, function, [])
    call.args = [
        ctx.struct(call, "edgec_softmax_params", "params", dict(params.values)),
        str(out.size // depth), str(depth),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(mask, const=True) if mask else "NULL",
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("gelu")
def _gelu(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    if graph.tensors[node.inputs[0]].dtype == "int16":
        call = KernelCall(node.name, node.op, "edgec_gelu_s16_s8", [])
        call.args = [
            ctx.struct(call, "edgec_gelu_s16_params", "params", dict(params.values)),
            str(graph.tensors[node.outputs[0]].size),
            ctx.buffer(node.inputs[0], const=True),
            ctx.buffer(node.outputs[0]),
        ]
        return call
    call = KernelCall(node.name, node.op, "edgec_gelu_s8", [])
    call.args = [
        ctx.add_array(ctx.symbol("table"), "int8_t", params.table),
        str(graph.tensors[node.outputs[0]].size),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call
