"""Accuracy figures of a quantized model against its float reference."""

from __future__ import annotations

import numpy as np


def sqnr_db(approx: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB: 10 log10(sum(ref^2) / sum((ref - approx)^2))."""
    reference = np.asarray(reference, dtype=np.float64)
    noise = np.sum((reference - np.asarray(approx, dtype=np.float64)) ** 2)
    signal = np.sum(reference**2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise))


def top1_agreement(approx: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of samples whose arg-max class matches (rows = samples)."""
    a = np.asarray(approx).reshape(len(approx), -1).argmax(axis=1)
    r = np.asarray(reference).reshape(len(reference), -1).argmax(axis=1)
    return float(np.mean(a == r))


def agreement_line(approx: np.ndarray, reference: np.ndarray) -> str:
    return (
        f"SQNR {sqnr_db(approx, reference):.2f} dB, "
        f"top-1 agreement {100 * top1_agreement(approx, reference):.1f}%"
    )


def cosine_similarities(approx: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine similarity of each sample's output with its reference (rows = samples)."""
    a = np.asarray(approx, dtype=np.float64).reshape(len(approx), -1)
    r = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    return np.divide(np.sum(a * r, axis=1), norms, out=np.zeros(len(a)), where=norms > 0)
