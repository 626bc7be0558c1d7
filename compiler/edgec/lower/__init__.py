"""Lowering: quantized IR nodes to integer kernel calls with precomputed constants."""
