"""Optimized kernel variants and their selection at lowering time.

The reference C kernels (runtime_c/kernels/ref) run on every target and are the spec. A
*variant* is a faster kernel for one op on targets with an instruction set extension
("dsp": the Armv7E-M/Armv8-M DSP instructions, "mve": Helium), valid for the nodes its
predicates accept. Before the memory plan, ``choose_variants`` picks for every node the first
registered variant whose extension the target lists (``[kernels] isa`` in its TOML) and whose
predicates all hold. Helium variants are tried before DSP ones (``ISA_PRIORITY``), and nodes
without a variant call the reference kernel. report.json records the choice per layer, with
the predicates that allowed it or, for a reference call, the first predicate each variant
failed.

A variant keeps its reference kernel's C signature, with three differences it declares here:

- ``arrange_filter``: the filter array is the variant's own layout (an int8 array computed
  at compile time), not the reference layout.
- ``folds_input_offset``: the bias array contains ``bias[c] + input_offset * sum(filter[c])``
  (int32, wrapped modulo 2**32), so the kernel sums ``input * filter`` only. Padded taps must
  then read the input zero point (``-input_offset``), which contributes ``-input_offset *
  filter`` and cancels the folded term, so the result equals the reference modulo 2**32.
  The variant is only valid when ``filter_offset`` is 0 (``filter_symmetric``).
- ``scratch_bytes``: conv2d, depthwise_conv2d and fully_connected variants, and any other
  variant that sets ``scratch_bytes``, take one more argument, ``void *scratch``: a buffer
  of that many bytes planned in the arena for the call (``NULL`` when the size is 0).

``in_place`` says whether the kernel keeps the reference's read-before-write order, so that
the memory planner may overlap its output with its input (``edgec.memory.aliasing``). A kernel
that writes an output pixel before it has read every input byte of the output pixels it has
still to compute must set it to False.

C sources are ``runtime_c/kernels/<isa>/<name>.c`` and define ``edgec_<name>``. To add a
variant: write the C file, then register a ``Variant`` in the module of its extension
(``edgec.lower.variants_dsp``, ``edgec.lower.variants_mve``), in priority order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgec.ir import Graph, Node
from edgec.lower.params import kernel_params

# Kernel selection modes of `edgec compile --kernels`. "cmsis-nn" calls Arm's CMSIS-NN
# where it is exact and these variants elsewhere (edgec.lower.cmsis_nn).
KERNEL_MODES = ("auto", "ref", "cmsis-nn")


@dataclass(frozen=True)
class Predicate:
    """A named condition on a node, recorded in report.json when a variant is chosen."""

    name: str
    test: Callable[[Node, Graph], bool]

    def __call__(self, node: Node, graph: Graph) -> bool:
        return self.test(node, graph)


def predicate(fn: Callable[[Node, Graph], bool]) -> Predicate:
    """Decorator: a predicate named after its function."""
    return Predicate(fn.__name__, fn)


@dataclass(frozen=True)
class Variant:
    """One optimized kernel: its C function, where it applies and what it needs."""

    name: str
    isa: str
    ops: tuple[str, ...]
    predicates: tuple[Predicate, ...]
    arrange_filter: Callable[[Node, Graph], np.ndarray] | None = None
    folds_input_offset: bool = False
    scratch_bytes: Callable[[Node, Graph], int] | None = None
    in_place: bool = True

    @property
    def function(self) -> str:
        return f"edgec_{self.name}"

    @property
    def source(self) -> str:
        return f"kernels/{self.isa}/{self.name}.c"

    def applies(self, node: Node, graph: Graph) -> bool:
        return node.op in self.ops and all(p(node, graph) for p in self.predicates)

    def scratch(self, node: Node, graph: Graph) -> int:
        return int(self.scratch_bytes(node, graph)) if self.scratch_bytes else 0


VARIANTS: list[Variant] = []


def register(variant: Variant) -> Variant:
    """Add ``variant`` after those already registered (earlier ones win)."""
    VARIANTS.append(variant)
    return variant


# Extensions from the most to the least capable: on a target with several, the variants of
# an earlier one are tried first (Helium before DSP on the Cortex-M55).
ISA_PRIORITY = ("mve", "dsp")


def choose_variant(node: Node, graph: Graph, isas: Sequence[str]) -> Variant | None:
    """Return the variant for ``node`` on a target with ``isas``: by ISA_PRIORITY, then in
    registration order, the first whose predicates all hold."""
    for isa in ISA_PRIORITY:
        if isa not in isas:
            continue
        for variant in VARIANTS:
            if variant.isa == isa and variant.applies(node, graph):
                return variant
    return None


def rejection_reasons(node: Node, graph: Graph, isas: Sequence[str]) -> list[str]:
    """Return, for each variant of ``node``'s op on a target with ``isas``, the first of its
    predicates that does not hold ("variant: predicate"), in the order they are tried."""
    reasons = []
    for isa in ISA_PRIORITY:
        if isa not in isas:
            continue
        for variant in VARIANTS:
            if variant.isa != isa or node.op not in variant.ops:
                continue
            failed = next((p for p in variant.predicates if not p(node, graph)), None)
            if failed is not None:
                reasons.append(f"{variant.name}: {failed.name}")
    return reasons


def choose_variants(nodes: list[Node], graph: Graph, isas: Sequence[str]) -> dict[str, Variant]:
    """Map each node name that has an applicable variant to it."""
    chosen = {}
    for node in nodes:
        variant = choose_variant(node, graph, isas)
        if variant is not None:
            chosen[node.name] = variant
    return chosen


def folded_bias(node: Node, graph: Graph) -> np.ndarray:
    """Return ``bias[c] + input_offset * sum(filter[c])`` as int32, wrapped modulo 2**32.

    The sum runs over every filter tap of output channel c: axes (kh, kw, ci) of an OHWI
    conv2d filter, (kh, kw) of a 1HW(C*M) depthwise filter, the input depth of a
    fully_connected filter.
    """
    filt = graph.tensors[node.inputs[1]].data.astype(np.int64)
    if node.op == "depthwise_conv2d":
        sums = filt.reshape(-1, filt.shape[-1]).sum(axis=0)
    else:
        sums = filt.reshape(filt.shape[0], -1).sum(axis=1)
    total = sums * int(kernel_params(node, graph)["input_offset"])
    if len(node.inputs) > 2 and node.inputs[2]:
        total = total + graph.tensors[node.inputs[2]].data.astype(np.int64)
    return ((total + 2**31) % 2**32 - 2**31).astype(np.int32)


# Predicates shared by the variants of every extension.


def _dtype(graph: Graph, name: str) -> str:
    return graph.tensors[name].dtype


@predicate
def int8_activations(node: Node, graph: Graph) -> bool:
    """Return whether every non-constant input and the output are int8."""
    names = [n for n in node.inputs if n and not graph.tensors[n].is_constant]
    return all(_dtype(graph, n) == "int8" for n in names + list(node.outputs))


@predicate
def int8_output(node: Node, graph: Graph) -> bool:
    """Return whether the output is int8. The fully_connected and add variants check it
    first, so that report.json names it for the int16 output of a residual stream."""
    return _dtype(graph, node.outputs[0]) == "int8"


@predicate
def int8_filter(node: Node, graph: Graph) -> bool:
    """Return whether the filter is int8 (not int4), with one scale per channel or tensor."""
    filt = graph.tensors[node.inputs[1]]
    return filt.dtype == "int8" and not filt.quant.per_group


@predicate
def filter_symmetric(node: Node, graph: Graph) -> bool:
    """Return whether the filter zero point is 0, so the input offset folds into the bias."""
    return kernel_params(node, graph)["filter_offset"] == 0


@predicate
def batch_1(node: Node, graph: Graph) -> bool:
    return graph.tensors[node.inputs[0]].shape[0] == 1


@predicate
def kernel_1x1(node: Node, graph: Graph) -> bool:
    shape = graph.tensors[node.inputs[1]].shape
    return shape[1] == 1 and shape[2] == 1


@predicate
def kernel_3x3(node: Node, graph: Graph) -> bool:
    shape = graph.tensors[node.inputs[1]].shape
    return shape[1] == 3 and shape[2] == 3


@predicate
def no_padding(node: Node, graph: Graph) -> bool:
    return not any(node.attrs.get("pads", (0, 0, 0, 0)))


@predicate
def no_dilation(node: Node, graph: Graph) -> bool:
    return tuple(node.attrs.get("dilations", (1, 1))) == (1, 1)


@predicate
def depth_multiplier_1(node: Node, graph: Graph) -> bool:
    return graph.tensors[node.inputs[1]].shape[3] == graph.tensors[node.inputs[0]].shape[3]


@predicate
def same_shape_inputs(node: Node, graph: Graph) -> bool:
    """Both inputs have the output's shape (no broadcasting)."""
    out = graph.tensors[node.outputs[0]].shape
    return all(graph.tensors[n].shape == out for n in node.inputs)


# The standard predicates of a folded int8 conv, depthwise or fully connected variant.
FOLDED_INT8 = (int8_activations, int8_filter, filter_symmetric)


def _load_extensions() -> None:
    """Import the modules that register the variants of each extension."""
    import edgec.lower.variants_dsp
    import edgec.lower.variants_mve  # noqa: F401


_load_extensions()
