"""Integer kernel parameters of batch_matmul, gather and masked_mean (registered with ``@params_for``)."""

from __future__ import annotations
