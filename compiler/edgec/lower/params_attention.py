"""Integer kernel parameters of gelu (registered with ``@params_for``)."""

from __future__ import annotations
