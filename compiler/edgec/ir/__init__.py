"""The edgec IR: see ``graph`` for the data structures and ``ops`` for the operator set."""

from edgec.ir.graph import DTYPES, Graph, Node, Quant, Tensor
from edgec.ir.ops import OPS, OpSpec

__all__ = ["DTYPES", "OPS", "Graph", "Node", "OpSpec", "Quant", "Tensor"]
