"""Frontends: model files to the edgec IR, first stage of the pipeline.

``load_model`` picks the frontend by file suffix (``.tflite``, ``.onnx``), and for any other
suffix by content: the ``TFL3`` flatbuffer identifier at bytes 4..8, or the first byte 0x08
that opens every serialized ONNX ``ModelProto`` (field 1, ``ir_version``). Each frontend
returns a ``Graph`` that passes ``Graph.check``. To add a format, add a loader module and one
entry in ``_LOADERS_BY_SUFFIX`` (plus a content test if the format has a magic number).
"""

from __future__ import annotations

from pathlib import Path

from edgec.errors import ModelFormatError
from edgec.frontend.tflite import load_tflite
from edgec.ir.graph import Graph

__all__ = ["load_model", "load_tflite"]


def _load_onnx(path: str | Path) -> Graph:
    # Imported on first use so that TFLite-only use does not import onnx.
    from edgec.frontend.onnx import load_onnx

    return load_onnx(path)


_LOADERS_BY_SUFFIX = {".tflite": load_tflite, ".onnx": _load_onnx}


def load_model(path: str | Path) -> Graph:
    """Load a TFLite or ONNX model file as an IR graph."""
    loader = _LOADERS_BY_SUFFIX.get(Path(path).suffix.lower())
    if loader is None:
        loader = _loader_from_content(path)
    return loader(path)


def _loader_from_content(path: str | Path):
    try:
        with open(path, "rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    if head[4:8] == b"TFL3":
        return load_tflite
    if head[:1] == b"\x08":
        return _load_onnx
    raise ModelFormatError(
        f"{path}: unknown model format; edgec reads ONNX (.onnx) and TFLite (.tflite) files"
    )
