"""Shared fixtures: where the real models and data are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
MLPERF_TINY = ["keyword_spotting", "image_classification", "visual_wake_words", "anomaly_detection"]


def models_dir() -> Path:
    """$EDGEC_MODELS, else ../shared/models beside the repository."""
    configured = os.environ.get("EDGEC_MODELS")
    return Path(configured) if configured else REPOSITORY.parent / "shared" / "models"


@pytest.fixture(scope="session")
def models() -> Path:
    path = models_dir()
    if not (path / "tflite").is_dir():
        pytest.skip(f"real models not found at {path}; set EDGEC_MODELS to the models folder")
    return path
