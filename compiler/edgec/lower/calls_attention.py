"""Kernel calls of gelu (registered with ``@lowers``)."""

from __future__ import annotations
