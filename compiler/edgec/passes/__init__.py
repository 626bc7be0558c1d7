"""Graph passes: the float IR rewrites between the frontend and the quantizer.

``PIPELINE`` is the ordered list of named passes. ``run_passes`` applies it and runs
``Graph.check`` before the first pass and after every pass, so the error names the pass
that broke an invariant. Each pass rewrites the graph in place and returns it; its module
docstring lists its stages and what it leaves to the others.

Order matters: layout clean-up and dead-node removal run before BatchNorm folding, which
needs the conv's output to have a single reader, and BatchNorm folding runs before
activation fusion, because a folded scale must come before the fused clamp.

To add a pass, write a module with one ``fn(graph) -> graph`` and add a ``Pass`` to
``PIPELINE``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from edgec.ir.graph import Graph
from edgec.passes.constant_folding import fold_constants
from edgec.passes.dead_nodes import remove_dead_nodes
from edgec.passes.fold_batchnorm import fold_batchnorm
from edgec.passes.fold_scalars import fold_scalars
from edgec.passes.fuse_activation import fuse_activations
from edgec.passes.layout import clean_layout

__all__ = ["PIPELINE", "Pass", "run_passes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pass:
    """A named graph rewrite."""

    name: str
    run: Callable[[Graph], Graph]


PIPELINE: list[Pass] = [
    Pass("fold_constants", fold_constants),
    Pass("clean_layout", clean_layout),
    Pass("remove_dead_nodes", remove_dead_nodes),
    Pass("fold_batchnorm", fold_batchnorm),
    Pass("fold_scalars", fold_scalars),
    Pass("fuse_activations", fuse_activations),
    Pass("remove_dead_nodes", remove_dead_nodes),
]


def run_passes(graph: Graph, pipeline: list[Pass] | None = None) -> Graph:
    """Apply ``pipeline`` (default ``PIPELINE``) to ``graph`` in place and return it.

    Raises RuntimeError naming the pass when the graph fails ``Graph.check`` after it; that
    is a bug in the pass, not a user error.
    """
    graph.check()
    for step in PIPELINE if pipeline is None else pipeline:
        graph = step.run(graph)
        try:
            graph.check()
        except ValueError as exc:
            raise RuntimeError(f"graph pass '{step.name}' left an invalid graph: {exc}") from exc
        logger.debug("after %s: %d nodes", step.name, len(graph.nodes))
    return graph
