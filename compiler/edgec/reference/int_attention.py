"""Integer reference kernels of gelu."""

from __future__ import annotations
