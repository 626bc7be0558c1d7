"""Bit-exactness tests of the C reference kernels against the reference interpreter."""
