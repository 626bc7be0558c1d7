"""Kernel calls of batch_matmul, gather and masked_mean (registered with ``@lowers``).

Where it sits: the lowering step, next to ``edgec.lower.calls``. Each builder turns a node
into a call of its C kernel (runtime_c/include/edgec/kernels_matmul.h) with the integers of
``edgec.lower.params_matmul``, which also checks the node. batch_matmul calls
``edgec_batch_matmul_s8`` or, for an int16 output, ``edgec_batch_matmul_s8_s16``. The int32
indices and mask are passed as ``const int32_t *`` (``LoweringContext.buffer`` casts them).
"""

from __future__ import annotations

from edgec.ir import Graph, Node
from edgec.lower.calls import KernelCall, LoweringContext, lowers
from edgec.lower.params import kernel_params
from edgec.lower.params_matmul import masked_mean_dims, matmul_dims

# batch_matmul kernels by output dtype.
BATCH_MATMUL_KERNELS = {
    "int8": "edgec_batch_matmul_s8",
    "int16": "edgec_batch_matmul_s8_s16",
}


@lowers("batch_matmul")
def _batch_matmul(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    batches, rows, depth, columns = matmul_dims(node, graph)
    function = BATCH_MATMUL_KERNELS[graph.tensors[node.outputs[0]].dtype]
    call = KernelCall(node.name, node.op, function, [])
    call.args = [
        ctx.struct(call, "edgec_batch_matmul_params", "params", dict(params.values)),
        str(batches), str(rows), str(depth), str(columns),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    call.macs = batches * rows * depth * columns
    return call


@lowers("gather")
def _gather(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    call = KernelCall(node.name, node.op, "edgec_gather_s8", [])
    call.args = [
        str(params["table_rows"]), str(params["row_size"]),
        ctx.constant(node.inputs[0]),
        str(params["count"]),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call


@lowers("masked_mean")
def _masked_mean(node: Node, graph: Graph, ctx: LoweringContext) -> KernelCall:
    params = kernel_params(node, graph)
    batches, rows, channels = masked_mean_dims(node, graph)
    call = KernelCall(node.name, node.op, "edgec_masked_mean_s8", [])
    call.args = [
        ctx.struct(call, "edgec_masked_mean_params", "params", dict(params.values)),
        str(batches), str(rows), str(channels),
        ctx.buffer(node.inputs[0], const=True),
        ctx.buffer(node.inputs[1], const=True),
        ctx.buffer(node.outputs[0]),
    ]
    return call
