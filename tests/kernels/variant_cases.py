"""Cases of the optimized kernel variants (edgec.lower.variants), one program per variant.

A variant case is a reference case (``tests.kernels.cases``) whose node the variant accepts,
turned into a call of the variant. The call takes the variant's C function, the filter in
the variant's layout (``Variant.arrange_filter``), the folded bias (``folded_bias``) and a
scratch buffer of ``Variant.scratch`` bytes. The expected output stays the reference interpreter's, so every
variant must match the interpreter bit for bit.

Besides the reference cases that apply, each variant has cases of its own shape space,
registered with ``@cases_for("variant name")`` in ``tests.kernels.variant_cases_dsp`` and
``tests.kernels.variant_cases_mve``: they build one-node graphs with the helpers of
``tests.kernels.graphs``, like the reference cases do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from edgec.lower.variants import VARIANTS, Variant, folded_bias
from edgec.reference.interpreter import run
from tests.kernels.bench import KernelCase
from tests.kernels.cases import PROGRAMS, Program

# Built with this define, fixed_point.h requantizes with single rounding (as a project
# generated for an ONNX QDQ model is); the expected outputs then come from the interpreter
# with Graph.requantize_rounding = "single".
SINGLE_ROUNDING_DEFINE = "EDGEC_SINGLE_ROUNDING=1"

CaseList = Callable[[], list[KernelCase]]
OWN_CASES: dict[str, list[CaseList]] = {}

# The reference programs whose cases a variant of each op may take over.
REFERENCE_PROGRAMS = {
    "conv2d": "conv2d",
    "depthwise_conv2d": "depthwise_conv2d",
    "fully_connected": "fully_connected",
    "average_pool2d": "avg_pool2d",
    "max_pool2d": "max_pool2d",
    "add": "add",
    "sub": "add",
    "mul": "mul",
    "quantize": "requantize",
    "clip": "requantize",
}
WEIGHTED_OPS = {"conv2d", "depthwise_conv2d", "fully_connected"}


def cases_for(*variant_names: str) -> Callable[[CaseList], CaseList]:
    """Register a function returning cases of the named variants' shape space."""
    def wrap(fn: CaseList) -> CaseList:
        for name in variant_names:
            OWN_CASES.setdefault(name, []).append(fn)
        return fn

    return wrap


def variant_case(case: KernelCase, variant: Variant) -> KernelCase:
    """Return ``case`` as a call of ``variant``; raise ValueError if the variant rejects it."""
    graph = case.graph
    (node,) = graph.nodes
    if not variant.applies(node, graph):
        raise ValueError(f"case '{case.name}' is outside the shape space of {variant.name}")
    result = copy.deepcopy(case)
    result.name = f"{variant.name}: {case.name}"
    result.fields["function"] = variant.function
    if node.op in WEIGHTED_OPS or variant.scratch_bytes is not None:
        result.fields["scratch_bytes"] = variant.scratch(node, graph)
    if variant.arrange_filter is not None:
        result.arrays["filter"] = variant.arrange_filter(node, graph)
    if variant.folds_input_offset:
        result.arrays["bias"] = folded_bias(node, graph)
    return result


def applicable_reference_cases(variant: Variant) -> list[KernelCase]:
    """The valid reference cases of the variant's ops that the variant accepts."""
    cases = []
    for program_name in sorted({REFERENCE_PROGRAMS[op] for op in variant.ops}):
        for case in PROGRAMS[program_name].build_cases():
            if case.graph is None or case.expected_status != 0:
                continue
            (node,) = case.graph.nodes
            if variant.applies(node, case.graph):
                cases.append(variant_case(case, variant))
    return cases


def own_cases(variant: Variant) -> list[KernelCase]:
    """The cases registered for the variant, each checked to be inside its shape space."""
    return [
        variant_case(case, variant)
        for fn in OWN_CASES.get(variant.name, [])
        for case in fn()
    ]


def variant_program(variant: Variant) -> Program:
    """The test program of ``variant``: its C source and all its cases."""
    def build() -> list[KernelCase]:
        return applicable_reference_cases(variant) + own_cases(variant)

    return Program(variant.name, (variant.source,), build)


def single_rounding_case(case: KernelCase) -> KernelCase:
    """Return ``case`` with the output expected under single rounding."""
    result = copy.deepcopy(case)
    result.name = f"single rounding, {case.name}"
    if result.graph is None or result.expected_status != 0:
        return result
    result.graph.requantize_rounding = "single"
    (node,) = result.graph.nodes
    expected = run(result.graph, result.feeds)[node.outputs[0]]
    result.expected = np.ascontiguousarray(expected).tobytes()
    return result


def _load_case_modules() -> None:
    import tests.kernels.variant_cases_dsp
    import tests.kernels.variant_cases_mve  # noqa: F401


_load_case_modules()
VARIANT_PROGRAMS = {variant.name: variant_program(variant) for variant in VARIANTS}
