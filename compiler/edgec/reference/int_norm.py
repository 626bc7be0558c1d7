"""Integer reference kernels of layer_norm and l2_normalize."""

from __future__ import annotations
