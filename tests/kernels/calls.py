"""Turns a one-node quantized graph into a ``KernelCase``: the C kernel call and its
expected output.

The expected output comes from the reference interpreter (``edgec.reference.interpreter.run``)
and the integer parameters from ``edgec.lower.params.kernel_params``, so the C kernel receives
the same numbers as the interpreter. The mapping from node to call arguments is written
here independently of the code generator's lowering, as the kernels' API in
runtime_c/include/edgec/kernels.h describes it.

One builder per op, registered with ``@builds("op")``: it returns the call macro's name,
its fields and its arrays. A conv2d, depthwise_conv2d or fully_connected node with an int4
filter calls the ``*_s8_s4`` kernel (macro ``<op>_s4``) with the filter packed here by
``pack_int4_rows``, written from kernels.h independently of ``edgec.quantize.params``. One
with an int16 input calls the 16x8 ``*_s16`` kernel (macro ``<op>_s16``), and a quantize
between int8 and int16 calls ``requantize_s8_s16`` or ``requantize_s16_s8``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgec.ir import DTYPES, Graph, Node
from edgec.lower.params import kernel_params
from edgec.reference.interpreter import run
from tests.kernels.bench import KernelCase, c_literal

CallParts = tuple[str, dict, dict[str, np.ndarray]]
CallBuilder = Callable[[Node, Graph, dict[str, np.ndarray]], CallParts]
CALL_BUILDERS: dict[str, CallBuilder] = {}


def builds(*ops: str) -> Callable[[CallBuilder], CallBuilder]:
    def wrap(fn: CallBuilder) -> CallBuilder:
        for op in ops:
            CALL_BUILDERS[op] = fn
        return fn

    return wrap


def case_from_graph(name: str, graph: Graph, feeds: dict[str, np.ndarray]) -> KernelCase:
    """Build the case of the single node of ``graph`` run on ``feeds``."""
    graph.check()
    (node,) = graph.nodes
    expected = run(graph, feeds)[node.outputs[0]]
    macro, fields, arrays = CALL_BUILDERS[node.op](node, graph, feeds)
    return KernelCase(name, macro, fields, arrays, np.ascontiguousarray(expected).tobytes(),
                      graph=graph, feeds=feeds)


def dims4(shape: tuple[int, ...]) -> list[int]:
    """Pad ``shape`` to 4-D with leading ones."""
    if len(shape) > 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _int32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(np.int32)


def _shape(graph: Graph, name: str) -> tuple[int, ...]:
    return graph.tensors[name].shape


def _feed(graph: Graph, feeds: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Return the feed of integer input ``name`` in its tensor's dtype."""
    return np.asarray(feeds[name], dtype=DTYPES[graph.tensors[name].dtype])


def _activation_macro(node, graph, macro: str) -> str:
    """Return ``macro`` + ``_s16`` for a 16x8 node (int16 input), else ``macro``."""
    return f"{macro}_s16" if graph.tensors[node.inputs[0]].dtype == "int16" else macro


# The output channel axis of each op's filter: OHWI, 1HW(C*M) and (O, I).
_CHANNEL_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0}


def pack_int4_rows(values: np.ndarray, axis: int) -> np.ndarray:
    """Pack int4 ``values`` as kernels.h describes it: one row of ceil(K / 2) bytes per output
    channel (``axis``), value 2j in the low nibble of byte j and 2j+1 in the high nibble."""
    channels = values.shape[axis]
    rows = np.moveaxis(values, axis, 0).reshape(channels, -1).astype(int)
    packed = np.zeros((channels, (rows.shape[1] + 1) // 2), dtype=np.uint8)
    for channel in range(channels):
        for k, value in enumerate(rows[channel]):
            nibble = value + 16 if value < 0 else value
            packed[channel, k // 2] |= nibble << (4 * (k % 2))
    return packed


def _int4_filter(node, graph, fields: dict, arrays: dict) -> str:
    """Replace the filter by its packed form and add the group arguments; return the macro."""
    tensor = graph.tensors[node.inputs[1]]
    arrays["filter"] = pack_int4_rows(tensor.data, _CHANNEL_AXIS[node.op])
    quant = tensor.quant
    fields["group_size"] = quant.group_size if quant.per_group else 0
    if quant.per_group:
        arrays["group_multipliers"] = quant.group_multipliers.astype(np.uint8)
    return f"{node.op}_s4"


@builds("conv2d", "depthwise_conv2d")
def _conv_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    input_name, filter_name = node.inputs[0], node.inputs[1]
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    input_shape, filter_shape = _shape(graph, input_name), _shape(graph, filter_name)
    depthwise = node.op == "depthwise_conv2d"

    strides = node.attrs.get("strides", (1, 1))
    dilations = node.attrs.get("dilations", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    fields = {
        "params": {
            "input_offset": params["input_offset"],
            "filter_offset": params["filter_offset"],
            "output_offset": params["output_offset"],
            "stride_h": strides[0],
            "stride_w": strides[1],
            "dilation_h": dilations[0],
            "dilation_w": dilations[1],
            "pad_top": pads[0],
            "pad_left": pads[1],
            "depth_multiplier": filter_shape[3] // input_shape[3] if depthwise else 1,
            "activation_min": params["activation_min"],
            "activation_max": params["activation_max"],
        },
        "input_dims": list(input_shape),
        "filter_dims": list(filter_shape),
        "output_dims": list(_shape(graph, node.outputs[0])),
    }

    arrays = {
        "input": _feed(graph, feeds, input_name),
        "filter": graph.tensors[filter_name].data,
        "multipliers": _int32(params.multipliers),
        "shifts": _int32(params.shifts),
    }
    if bias_name:
        arrays["bias"] = graph.tensors[bias_name].data
    if graph.tensors[filter_name].dtype == "int4":
        return _int4_filter(node, graph, fields, arrays), fields, arrays
    return _activation_macro(node, graph, node.op), fields, arrays


@builds("fully_connected")
def _fully_connected_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    output_depth, input_depth = _shape(graph, node.inputs[1])
    rows = graph.tensors[node.inputs[0]].size // input_depth
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    keys = ("input_offset", "filter_offset", "output_offset", "activation_min", "activation_max")
    fields = {
        "params": {key: params[key] for key in keys},
        "rows": rows,
        "input_depth": input_depth,
        "output_depth": output_depth,
    }
    arrays = {
        "input": _feed(graph, feeds, node.inputs[0]),
        "filter": graph.tensors[node.inputs[1]].data,
        "multipliers": _int32(params.multipliers),
        "shifts": _int32(params.shifts),
    }
    if bias_name:
        arrays["bias"] = graph.tensors[bias_name].data
    if graph.tensors[node.inputs[1]].dtype == "int4":
        return _int4_filter(node, graph, fields, arrays), fields, arrays
    return _activation_macro(node, graph, "fully_connected"), fields, arrays


@builds("average_pool2d", "max_pool2d")
def _pool_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    kernel = node.attrs["kernel"]
    strides = node.attrs.get("strides", (1, 1))
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    fields = {
        "params": {
            "filter_h": kernel[0],
            "filter_w": kernel[1],
            "stride_h": strides[0],
            "stride_w": strides[1],
            "pad_top": pads[0],
            "pad_left": pads[1],
            "activation_min": params["activation_min"],
            "activation_max": params["activation_max"],
        },
        "input_dims": list(_shape(graph, node.inputs[0])),
        "output_dims": list(_shape(graph, node.outputs[0])),
    }
    macro = "avg_pool2d" if node.op == "average_pool2d" else "max_pool2d"
    return macro, fields, {"input": np.asarray(feeds[node.inputs[0]], dtype=np.int8)}


def broadcast_fields(graph: Graph, node: Node) -> dict:
    """The edgec_broadcast of a binary node: output shape and element strides, 0 on
    broadcast dimensions."""
    output_shape = dims4(_shape(graph, node.outputs[0]))
    fields = {"shape": output_shape}
    for key, name in (("input1_strides", node.inputs[0]), ("input2_strides", node.inputs[1])):
        input_shape = dims4(_shape(graph, name))
        strides = [0, 0, 0, 0]
        step = 1
        for axis in range(3, -1, -1):
            strides[axis] = 0 if input_shape[axis] == 1 else step
            step *= input_shape[axis]
        fields[key] = strides
    return fields


def _binary_arrays(node, feeds) -> dict[str, np.ndarray]:
    return {
        "input1": np.asarray(feeds[node.inputs[0]], dtype=np.int8),
        "input2": np.asarray(feeds[node.inputs[1]], dtype=np.int8),
    }


@builds("add", "sub")
def _add_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    fields = {
        "params": dict(params.values),
        "sign": 1 if node.op == "add" else -1,
        "broadcast": broadcast_fields(graph, node),
    }
    return "add", fields, _binary_arrays(node, feeds)


@builds("mul")
def _mul_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    fields = {"params": dict(params.values), "broadcast": broadcast_fields(graph, node)}
    return "mul", fields, _binary_arrays(node, feeds)


@builds("softmax")
def _softmax_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    shape = _shape(graph, node.inputs[0])
    fields = {
        "params": dict(params.values),
        "rows": int(np.prod(shape[:-1], dtype=np.int64)),
        "depth": shape[-1],
    }
    return "softmax", fields, {"input": np.asarray(feeds[node.inputs[0]], dtype=np.int8)}


@builds("quantize")
def _quantize_call(node, graph, feeds) -> CallParts:
    source = graph.tensors[node.inputs[0]]
    size = source.size
    if source.dtype == "float32":
        quant = graph.tensors[node.outputs[0]].quant
        fields = {
            "size": size,
            "scale": c_literal(quant.scale[0], "float"),
            "zero_point": int(quant.zero_point[0]),
        }
        return "quantize_f32", fields, {"input": np.asarray(feeds[node.inputs[0]], np.float32)}
    params = kernel_params(node, graph)
    fields = {"params": dict(params.values), "size": size}
    macros = {("int8", "int8"): "requantize", ("int8", "int16"): "requantize_s8_s16",
              ("int16", "int8"): "requantize_s16_s8"}
    macro = macros[(source.dtype, graph.tensors[node.outputs[0]].dtype)]
    return macro, fields, {"input": _feed(graph, feeds, node.inputs[0])}


@builds("dequantize")
def _dequantize_call(node, graph, feeds) -> CallParts:
    source = graph.tensors[node.inputs[0]]
    fields = {
        "size": source.size,
        "scale": c_literal(source.quant.scale[0], "float"),
        "zero_point": int(source.quant.zero_point[0]),
    }
    return "dequantize_f32", fields, {"input": np.asarray(feeds[node.inputs[0]], np.int8)}


@builds("clip")
def _clip_call(node, graph, feeds) -> CallParts:
    params = kernel_params(node, graph)
    fields = {
        "activation_min": params["activation_min"],
        "activation_max": params["activation_max"],
        "size": graph.tensors[node.inputs[0]].size,
    }
    return "clip", fields, {"input": np.asarray(feeds[node.inputs[0]], dtype=np.int8)}


@builds("transpose")
def _transpose_call(node, graph, feeds) -> CallParts:
    shape = _shape(graph, node.inputs[0])
    extra = 4 - len(shape)
    perm = list(range(extra)) + [p % len(shape) + extra for p in node.attrs["perm"]]
    arrays = {
        "input": np.asarray(feeds[node.inputs[0]], dtype=np.int8),
        "shape": _int32(dims4(shape)),
        "perm": _int32(perm),
    }
    return "transpose", {}, arrays


@builds("concat")
def _concat_call(node, graph, feeds) -> CallParts:
    output_shape = _shape(graph, node.outputs[0])
    axis = node.attrs["axis"] % len(output_shape)
    outer = int(np.prod(output_shape[:axis], dtype=np.int64))
    inner = int(np.prod(output_shape[axis + 1 :], dtype=np.int64))
    arrays = {
        f"input{k}": np.asarray(feeds[name], dtype=np.int8) for k, name in enumerate(node.inputs)
    }
    arrays["copy_sizes"] = _int32([_shape(graph, name)[axis] * inner for name in node.inputs])
    fields = {
        "outer": outer,
        "count": len(node.inputs),
        "input_roles": [f"input{k}" for k in range(len(node.inputs))],
    }
    return "concat", fields, arrays


@builds("pad")
def _pad_call(node, graph, feeds) -> CallParts:
    source = graph.tensors[node.inputs[0]]
    pads = [(0, 0)] * (4 - len(source.shape)) + [tuple(p) for p in node.attrs["pads"]]
    arrays = {
        "input": np.asarray(feeds[node.inputs[0]], dtype=np.int8),
        "shape": _int32(dims4(source.shape)),
        "before": _int32([p[0] for p in pads]),
        "after": _int32([p[1] for p in pads]),
    }
    return "pad", {"pad_value": int(source.quant.zero_point[0])}, arrays
