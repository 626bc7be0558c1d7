"""Kernel calls of layer_norm and l2_normalize (registered with ``@lowers``)."""

from __future__ import annotations
