"""Instructions per inference of the optimized kernels, measured by `edgec bench` under
qemu-system-arm -icount shift=0 (deterministic), against these goals:

- cortex-m4 and cortex-m55: at most 0.7x TFLite Micro with CMSIS-NN's DSP and Helium kernels
  (bench/tflm_figures.py) on the four MLPerf Tiny int8 models;
- cortex-m4: flash_bytes below TFLite Micro's model array plus its code;
- cortex-m4 and cortex-m55: an arena (scratch buffers included) at most 0.8x TFLite Micro's
  with CMSIS-NN, which plans CMSIS-NN's scratch buffers in its arena too;
- cortex-m7 and cortex-m33: fewer instructions than edgec's own reference kernels.

The same figures, with the command that makes them, are in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import pytest

from bench.tflm_figures import (
    MODELS,
    TARGET_RATIO,
    TFLM_CMSIS_NN_ARENA_BYTES,
    TFLM_CMSIS_NN_INSTRUCTIONS,
    TFLM_FLASH_BYTES,
)

# The arena bound of the memory plan against TFLite Micro.
ARENA_RATIO = 0.8
from edgec.bench import bench_project
from edgec.pipeline import compile_model

pytestmark = [pytest.mark.qemu, pytest.mark.cross]


@pytest.fixture(scope="module")
def benched(models, tmp_path_factory):
    """Return a function giving `edgec bench`'s figures of (model, target, kernel mode)."""
    cache: dict[tuple[str, str, str], dict] = {}
    base = tmp_path_factory.mktemp("kernel-speed")

    def figures(name: str, target: str, kernels: str = "auto") -> dict:
        key = (name, target, kernels)
        if key not in cache:
            project = base / "-".join(key)
            model = models / "tflite" / f"{name}_int8.tflite"
            compile_model(model, target, project, quiet=True, kernels=kernels)
            cache[key] = bench_project(project)
        return cache[key]

    return figures


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", MODELS)
def test_instructions_within_ratio_of_tflm(benched, name, target):
    instructions = benched(name, target)["instructions"]
    tflm = TFLM_CMSIS_NN_INSTRUCTIONS[target][name]

    assert instructions <= TARGET_RATIO * tflm, (
        f"{name} on {target}: {instructions:,} instructions, "
        f"{instructions / tflm:.3f}x TFLite Micro + CMSIS-NN ({tflm:,})"
    )


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", MODELS)
def test_arena_within_ratio_of_tflm(benched, name, target):
    arena = benched(name, target)["arena_bytes"]
    tflm = TFLM_CMSIS_NN_ARENA_BYTES[target][name]

    assert arena <= ARENA_RATIO * tflm, f"{name} on {target}: arena {arena:,} vs {tflm:,}"


@pytest.mark.parametrize("name", MODELS)
def test_flash_below_tflm_on_cortex_m4(benched, name):
    flash = benched(name, "cortex-m4")["flash_bytes"]

    assert flash < TFLM_FLASH_BYTES[name], (
        f"{name}: flash_bytes {flash:,} >= TFLite Micro's {TFLM_FLASH_BYTES[name]:,}"
    )


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33"])
@pytest.mark.parametrize("name", ["keyword_spotting", "anomaly_detection"])
def test_optimized_beat_reference_kernels(benched, name, target):
    optimized = benched(name, target)["instructions"]
    reference = benched(name, target, "ref")["instructions"]

    assert optimized < 0.5 * reference, (
        f"{name} on {target}: optimized {optimized:,} vs reference {reference:,}"
    )
