"""Padding tokens left out of calibration statistics.

A transformer input padded to a fixed length has an attention mask: a graph input that
masked softmaxes and masked means read. The rows of the padding tokens are computed like
the others, but nothing reads them: the mask removes them from every attention and from
the pooling. Their values are not those of real tokens, so statistics over them would
widen activation ranges and skew GPTQ's and AWQ's input moments with rows that never
matter. ``real_token_rows`` keeps the rows of the real tokens of a (1, tokens, channels)
activation. Every other tensor, and every graph without such a mask, passes unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgec.ir import Graph

# Ops whose input 1 is a token mask.
MASK_READERS = {"softmax", "masked_mean"}


def token_mask_name(graph: Graph) -> str | None:
    """Return the graph input that the ops of ``MASK_READERS`` read as their mask."""
    for node in graph.nodes:
        if node.op in MASK_READERS and len(node.inputs) > 1 and node.inputs[1] in graph.inputs:
            return node.inputs[1]
    return None


def real_token_rows(array: np.ndarray, values: Mapping[str, np.ndarray],
                    mask_name: str | None) -> np.ndarray:
    """Return the rows of ``array`` (1, tokens, channels) whose mask is not 0.

    ``values`` contains the sample's graph inputs. Any other shape, a sample without real
    tokens, or ``mask_name`` None gives ``array`` unchanged.
    """
    if mask_name is None or array.ndim != 3 or array.shape[0] != 1:
        return array
    keep = np.asarray(values[mask_name]).reshape(-1) != 0
    if keep.size != array.shape[1] or not keep.any():
        return array
    return array[:, keep, :]
