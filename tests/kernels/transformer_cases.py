"""The kernel test programs of the transformer ops, one list per group of kernels."""

from __future__ import annotations

from tests.kernels import attention_cases, matmul_cases, norm_cases, residual_cases

TRANSFORMER_PROGRAMS = [
    *attention_cases.PROGRAMS,
    *matmul_cases.PROGRAMS,
    *norm_cases.PROGRAMS,
    *residual_cases.PROGRAMS,
]
