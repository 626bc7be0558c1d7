"""A small BERT-style transformer block as an ONNX model, built with onnx.helper.

One post-LayerNorm encoder layer: multi-head self-attention with an additive attention mask
(the ``(1 - mask) * -10000`` form of older exports), a residual add and a decomposed
LayerNorm, then an MLP with the erf GELU, a second residual add and LayerNorm. The weights
are random with a fixed seed, scaled like a trained model's so the activations keep
transformer-like ranges, and the LayerNorms scale channel 3 by 8, which gives the residual
stream the outlier channel of BERT models. Inputs: ``hidden`` float32 (1, tokens, width) and ``attention_mask``
int64 (1, tokens); output ``output`` float32 (1, tokens, width).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUTLIER_CHANNEL = 3


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def constant(self, value, name: str | None = None) -> str:
        self.count += 1
        name = name or f"c{self.count}"
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        self.count += 1
        output = f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{self.count}",
                                           **attrs))
        return output

    def linear(self, x: str, fan_in: int, fan_out: int) -> str:
        weights = self.rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out))
        bias = self.rng.normal(0, 0.05, fan_out)
        product = self.node("MatMul", [x, self.constant(weights)])
        return self.node("Add", [self.constant(bias), product])

    def layer_norm(self, x: str, width: int) -> str:
        mean = self.node("ReduceMean", [x], axes=[-1])
        centered = self.node("Sub", [x, mean])
        square = self.node("Pow", [centered, self.constant(np.float32(2.0))])
        variance = self.node("ReduceMean", [square], axes=[-1])
        shifted = self.node("Add", [variance, self.constant(np.float32(1e-12))])
        normalized = self.node("Div", [centered, self.node("Sqrt", [shifted])])
        gamma = 1.0 + self.rng.normal(0, 0.1, width)
        gamma[OUTLIER_CHANNEL] = 8.0
        scaled = self.node("Mul", [normalized, self.constant(gamma)])
        return self.node("Add", [scaled, self.constant(self.rng.normal(0, 0.1, width))])

    def gelu(self, x: str) -> str:
        erf = self.node("Erf", [self.node("Div", [x, self.constant(np.float32(np.sqrt(2)))])])
        plus_one = self.node("Add", [erf, self.constant(np.float32(1.0))])
        return self.node("Mul", [self.node("Mul", [x, plus_one]), self.constant(np.float32(0.5))])


def transformer_block(tokens: int = 16, width: int = 64, heads: int = 4, hidden: int = 128,
                      seed: int = 0) -> onnx.ModelProto:
    """Return the block as an opset-14 ONNX model (see the module docstring)."""
    b = _Builder(np.random.default_rng(seed))
    depth = width // heads
    split = b.constant(np.array([1, tokens, heads, depth], dtype=np.int64))
    merge = b.constant(np.array([1, tokens, width], dtype=np.int64))

    def heads_of(x: str, perm: list[int]) -> str:
        return b.node("Transpose", [b.node("Reshape", [x, split])], perm=perm)

    query = heads_of(b.linear("hidden", width, width), [0, 2, 1, 3])
    key = heads_of(b.linear("hidden", width, width), [0, 2, 3, 1])
    value = heads_of(b.linear("hidden", width, width), [0, 2, 1, 3])
    scores = b.node("Mul", [b.node("MatMul", [query, key]),
                            b.constant(np.float32(1 / np.sqrt(depth)))])
    mask = b.node("Cast", [b.node("Unsqueeze", ["attention_mask", b.constant(
        np.array([1, 2], dtype=np.int64))])], to=TensorProto.FLOAT)
    penalty = b.node("Mul", [b.node("Sub", [b.constant(np.float32(1.0)), mask]),
                             b.constant(np.float32(-10000.0))])
    probabilities = b.node("Softmax", [b.node("Add", [scores, penalty])], axis=-1)
    context = b.node("Reshape", [b.node("Transpose", [b.node("MatMul", [probabilities, value])],
                                        perm=[0, 2, 1, 3]), merge])
    attended = b.layer_norm(b.node("Add", [b.linear(context, width, width), "hidden"]), width)
    expanded = b.gelu(b.linear(attended, width, hidden))
    output = b.layer_norm(b.node("Add", [b.linear(expanded, hidden, width), attended]), width)
    b.nodes.append(helper.make_node("Identity", [output], ["output"], name="Identity_output"))

    graph = helper.make_graph(
        b.nodes, "transformer_block",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, tokens, width]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, tokens])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, tokens, width])],
        b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    return model


def block_inputs(count: int, tokens: int = 16, width: int = 64,
                 seed: int = 1) -> dict[str, np.ndarray]:
    """Random inputs: hidden states, and masks with 4 to ``tokens`` leading tokens kept."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(0, 1, (count, 1, tokens, width)).astype(np.float32)
    lengths = rng.integers(4, tokens + 1, size=count)
    mask = (np.arange(tokens)[None, :] < lengths[:, None]).astype(np.int64)
    return {"hidden": hidden, "attention_mask": mask.reshape(count, 1, tokens)}
