"""Kernel test cases of the attention transformer kernels.

``PROGRAMS`` lists (program name, C sources in runtime_c/kernels/ref, case builder).
"""

from __future__ import annotations

PROGRAMS: list = []
