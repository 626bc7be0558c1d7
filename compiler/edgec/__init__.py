"""edgec: compile trained neural networks into integer-only C for Cortex-M and Cortex-A."""

__version__ = "0.1.0"
