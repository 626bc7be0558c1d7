"""Integer reference kernels of batch_matmul, gather and masked_mean."""

from __future__ import annotations
