"""Integer kernel parameters of layer_norm and l2_normalize (registered with ``@params_for``)."""

from __future__ import annotations
