"""ONNX frontend: a float32 ONNX model (opset 11 and newer) becomes an edgec IR graph.

Where it sits: first stage of the pipeline for ``.onnx`` files (``edgec.frontend.load_model``
dispatches here). ``load_onnx`` returns the graph after the graph passes
(``edgec.passes.run_passes``); ``optimize=False`` returns the direct conversion.

Stages of ``load_onnx``:
1. Read the file with ``onnx.load`` and ``onnx.checker``. A missing, truncated or non-ONNX
   file raises ModelFormatError, and so does an opset below 11.
2. Check the whole graph before converting anything. Every node must either compute
   constants (all inputs constant, or Shape/Size) or have a converter whose constant-only
   inputs are constants. One UnsupportedOperatorError lists every other node as
   ``name (OpType)``.
3. Make shapes static. A symbolic batch dimension of a graph input becomes 1, and strict
   ONNX shape inference then gives every value a static shape. The converters compute
   shapes themselves, and a converter shape that differs from the inferred one is a bug.
4. Convert the nodes in order: constant nodes are folded (``onnx_constant``), the others go
   to their converter (``onnx_compute_ops``, ``onnx_layout_ops``), which appends IR nodes
   through the layout-tracking context (``onnx_values``).
5. Bind the graph outputs: each gets an IR tensor of its ONNX name in the model's own layout.

Invariants of the result: ``Graph.check`` passes and every tensor is float32. Graph inputs
and outputs keep their ONNX names and shapes, so an NCHW input stays NCHW and a transpose
node inside the graph converts it. All other 4-D activations are NHWC.

A QDQ model (QuantizeLinear/DequantizeLinear nodes, from onnxruntime's quantize_static or a
QAT export) takes another path after stage 1: ``onnx_qdq`` reads the quantization into
records and checks every node, stages 3 and 4 convert the float model that remains, and
``onnx_qdq_build`` turns the result into an integer graph with the model's own scales and
zero points (int8 tensors, ``quantize``/``dequantize`` nodes at the float graph inputs and
outputs), like the graph of an int8 TFLite model.

To add an op, register one converter (see ``onnx_registry``) and its reference kernel.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

# Imported for their converter registrations.
import edgec.frontend.onnx_compute_ops
import edgec.frontend.onnx_layout_ops
import edgec.frontend.onnx_transformer_ops  # noqa: F401
from edgec.errors import ModelFormatError, UnsupportedOperatorError
from edgec.frontend.onnx_constant import fold_node, is_foldable
from edgec.frontend.onnx_patterns import EDGEC_DOMAIN, fuse_patterns
from edgec.frontend.onnx_qdq import check_qdq_nodes, is_qdq_model, raise_problems, strip_qdq
from edgec.frontend.onnx_qdq_build import build_integer_graph
from edgec.frontend.onnx_registry import CONVERTERS, NodeView, display_name, find_converter
from edgec.frontend.onnx_values import ConversionContext, IntegerInputError
from edgec.ir.graph import Graph

__all__ = ["MIN_OPSET", "load_onnx"]

MIN_OPSET = 11
# IR dtype of each ONNX graph input type: integer inputs (token ids, masks) become int32.
INPUT_TYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.INT64: "int32",
    onnx.TensorProto.INT32: "int32",
}


def load_onnx(path: str | Path, optimize: bool = True) -> Graph:
    """Load an ONNX model as an IR graph, after the graph passes unless ``optimize`` is false.

    A float model gives a float32 graph. A QDQ model gives an integer graph with the model's
    own quantization.

    Raises ModelFormatError for a missing, unreadable or invalid file,
    UnsupportedOperatorError listing every node edgec cannot convert,
    UnsupportedAttributeError for an attribute value it cannot compile, and (QDQ models)
    QuantizationError listing every node whose integer arithmetic edgec cannot express.
    """
    path = Path(path)
    model = _read_model(path)
    opset = _default_opset(model, path)
    if is_qdq_model(model):
        return _load_qdq(model, opset, path, optimize)
    model = _infer_static_shapes(model, path)
    model, _ = fuse_patterns(model)
    _check_support(model, opset, path)
    graph, _ = _convert(model, opset, path)
    graph.check()
    if optimize:
        from edgec.passes import run_passes

        graph = run_passes(graph)
    return graph


def _load_qdq(model: onnx.ModelProto, opset: int, path: Path, optimize: bool) -> Graph:
    """Load a QDQ model as an integer graph (stages 2 to 5 on the float model it contains)."""
    qdq = strip_qdq(model)
    unsupported, folded = _scan_nodes(qdq.model, opset)
    for node, reason in unsupported:
        if not qdq.rejected.intersection(node.input):
            qdq.problem(node, reason, unsupported=True)
    check_qdq_nodes(qdq, folded | {display_name(node) for node, _ in unsupported})
    raise_problems(path, qdq.problems)

    float_model = _infer_static_shapes(qdq.model, path)
    origins: dict[int, onnx.NodeProto] = {}
    graph, ctx = _convert(float_model, opset, path, origins)
    graph = build_integer_graph(graph, ctx, origins, qdq, path)
    graph.check()
    if optimize:
        from edgec.passes import Pass, run_passes
        from edgec.passes.dead_nodes import remove_dead_nodes
        from edgec.passes.layout import clean_layout

        # Only the passes that keep quantization: the others rewrite float graphs.
        graph = run_passes(graph, [Pass("clean_layout", clean_layout),
                                   Pass("remove_dead_nodes", remove_dead_nodes)])
    return graph


# Stage 1 -------------------------------------------------------------------------------------


def _read_model(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ModelFormatError(f"ONNX model '{path}' not found; check the path")
    if path.stat().st_size == 0:
        raise ModelFormatError(f"ONNX model '{path}' is empty; export or download it again")
    try:
        model = onnx.load(str(path))
    except (DecodeError, OSError, ValueError) as exc:
        raise ModelFormatError(
            f"'{path}' is not a readable ONNX model ({type(exc).__name__}: {exc}); the file may "
            "be truncated or of another format, so export or download it again"
        ) from exc
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        raise ModelFormatError(
            f"'{path}' is not a valid ONNX model: {first_line}; fix the exporter settings or "
            "export the model again"
        ) from exc
    return model


def _default_opset(model: onnx.ModelProto, path: Path) -> int:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ModelFormatError(f"'{path}' imports no default ONNX opset; is it an ONNX model?")
    opset = max(versions)
    if opset < MIN_OPSET:
        raise ModelFormatError(
            f"'{path}' uses ONNX opset {opset}; edgec reads opset {MIN_OPSET} and newer, so "
            "convert it first with onnx.version_converter.convert_version(model, 13)"
        )
    return opset


# Stage 2 -------------------------------------------------------------------------------------


def _check_support(model: onnx.ModelProto, opset: int, path: Path) -> None:
    """Raise one UnsupportedOperatorError that lists every node edgec cannot convert."""
    unsupported, _ = _scan_nodes(model, opset)
    if not unsupported:
        return
    problems = [_label(node, reason) for node, reason in unsupported]
    op_counts: dict[str, int] = {}
    for node, _ in unsupported:
        op_counts[node.op_type] = op_counts.get(node.op_type, 0) + 1
    summary = ", ".join(f"{op} x{count}" for op, count in sorted(op_counts.items()))
    message = (
        f"'{path}': {len(problems)} ONNX node(s) not supported ({summary}): "
        f"{', '.join(problems)}. "
        f"Supported operators: {', '.join(sorted(CONVERTERS))}, and any operator whose inputs "
        "are all constants."
    )
    if any(node.op_type == "DynamicQuantizeLinear" for node, _ in unsupported):
        message += " Dynamic quantization is not supported: quantize the model statically " \
                   "(QDQ format) or compile the float model."
    raise UnsupportedOperatorError(message)


def _scan_nodes(
    model: onnx.ModelProto, opset: int
) -> tuple[list[tuple[onnx.NodeProto, str]], set[str]]:
    """Return the nodes edgec cannot convert, each with the reason, and the names of the
    nodes that compute constants."""
    constants = {init.name for init in model.graph.initializer}
    unsupported = []
    folded = set()
    for node in model.graph.node:
        reason = _node_problem(node, constants, opset)
        if reason is not None:
            unsupported.append((node, reason))
        elif is_foldable(node, constants):
            constants.update(name for name in node.output if name)
            folded.add(display_name(node))
    return unsupported, folded


def _node_problem(node: onnx.NodeProto, constants: set[str], opset: int) -> str | None:
    """Return why ``node`` cannot be converted, or None if it converts."""
    if node.domain not in ("", "ai.onnx", EDGEC_DOMAIN):
        return f"edgec has no converter for operators of domain '{node.domain}'"
    if is_foldable(node, constants):
        return None
    entry = find_converter(node.op_type, opset)
    if entry is None:
        return f"edgec has no converter for {node.op_type}"
    for index in entry.constant_inputs:
        if index < len(node.input) and node.input[index] and node.input[index] not in constants:
            return f"input '{node.input[index]}' must be a constant"
    return None


def _label(node: onnx.NodeProto, reason: str) -> str:
    """Describe an unsupported node in the float model's list: ``name (OpType)`` and, for a
    non-constant input, which one."""
    label = display_name(node)
    if node.domain not in ("", "ai.onnx"):
        return f"{label} ({node.domain}.{node.op_type})"
    if reason.startswith("input '"):
        value = reason.removesuffix(" must be a constant")
        return f"{label} ({node.op_type}) with non-constant {value}"
    return f"{label} ({node.op_type})"


# Stage 3 -------------------------------------------------------------------------------------


def _infer_static_shapes(model: onnx.ModelProto, path: Path) -> onnx.ModelProto:
    """Fix a symbolic batch dimension to 1 and run strict shape inference."""
    initializers = {init.name for init in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        if tensor_type.elem_type not in INPUT_TYPES:
            type_name = onnx.TensorProto.DataType.Name(tensor_type.elem_type)
            raise ModelFormatError(
                f"'{path}': graph input '{value.name}' is {type_name}; edgec compiles models "
                "with float32 inputs, and int64 or int32 token ids and attention masks"
            )
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.dim_value > 0:
                continue
            if axis != 0:
                raise ModelFormatError(
                    f"'{path}': graph input '{value.name}' has a dynamic dimension at axis {axis} "
                    f"('{dim.dim_param}'); export the model with a fixed input shape"
                )
            dim.Clear()
            dim.dim_value = 1
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as exc:
        raise ModelFormatError(
            f"'{path}': ONNX shape inference failed ({str(exc).strip()}); check that the model "
            "is valid and has static shapes"
        ) from exc


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    dims = value.type.tensor_type.shape.dim
    if any(not dim.HasField("dim_value") for dim in dims):
        return None
    return tuple(int(dim.dim_value) for dim in dims)


# Stages 4 and 5 ------------------------------------------------------------------------------


def _convert(
    model: onnx.ModelProto, opset: int, path: Path,
    origins: dict[int, onnx.NodeProto] | None = None,
) -> tuple[Graph, ConversionContext]:
    """Convert the nodes and bind the outputs; return the graph and the conversion context.

    With ``origins``, records ``id`` of every IR node a converter appends -> its ONNX node.
    """
    onnx_graph = model.graph
    names = {name for node in onnx_graph.node for name in list(node.input) + list(node.output)}
    names.update(value.name for value in onnx_graph.input)
    names.update(init.name for init in onnx_graph.initializer)
    outputs = [value.name for value in onnx_graph.output]
    graph = Graph(name=path.stem)
    ctx = ConversionContext(graph, opset, names, outputs)

    for value in list(onnx_graph.value_info) + list(onnx_graph.output):
        shape = _static_shape(value)
        if shape is not None:
            ctx.expected_shapes[value.name] = shape
    for init in onnx_graph.initializer:
        ctx.set_constant(init.name, onnx.numpy_helper.to_array(init))
    for value in onnx_graph.input:
        if value.name not in ctx.constants:
            dtype = INPUT_TYPES[value.type.tensor_type.elem_type]
            ctx.add_graph_input(value.name, _static_shape(value), dtype)

    for node in onnx_graph.node:
        if is_foldable(node, ctx.constants.keys()):
            fold_node(ctx, node)
            continue
        entry = find_converter(node.op_type, opset)
        first = len(graph.nodes)
        try:
            entry.fn(ctx, NodeView(node, entry, opset))
        except IntegerInputError as exc:
            raise UnsupportedOperatorError(
                f"node '{display_name(node)}' ({node.op_type}): {exc}") from exc
        if origins is not None:
            origins.update((id(ir_node), node) for ir_node in graph.nodes[first:])

    for name in outputs:
        ctx.bind_output(name)
    graph.remove_unused_tensors()
    return graph, ctx
