"""Kernel calls of batch_matmul, gather and masked_mean (registered with ``@lowers``)."""

from __future__ import annotations
