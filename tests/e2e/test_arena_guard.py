"""The planned arena is safe: AddressSanitizer plus guard zones around the arena.

Each MLPerf Tiny int8 model is compiled for host and built with -fsanitize=address and
-DEDGEC_ARENA_GUARD, which puts poisoned guard zones on both sides of the arena (see
templates/model.c.j2). The eval inputs must run without a sanitizer report, leave the guards
intact, and give the reference interpreter's output bit for bit: kernels that share bytes
in place must not clobber a tensor that is still live.

The negative controls shrink the arena by 16 bytes below the plan, so that the last tensor
reaches into the high guard zone, and check that both the sanitizer and the pattern check
catch it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgec.pipeline import generate, load_quantized
from edgec.reference.interpreter import run_samples
from edgec.runner import pack_inputs, read_metadata, run_project, unpack_outputs
from edgec.targets import load_target
from edgec.verify import match_inputs
from tests.conftest import MLPERF_TINY

HOST_CFLAGS = "-O1 -g -std=c99 -Wall -Wextra -Werror -DEDGEC_ARENA_GUARD"
ASAN_FLAGS = "-fsanitize=address -fno-omit-frame-pointer"


def _compile(models: Path, name: str, out_dir: Path):
    model = models / "tflite" / f"{name}_int8.tflite"
    graph = load_quantized(model, quiet=True)
    generate(graph, load_target("host"), out_dir, "model", model)
    eval_inputs = dict(np.load(models / "data" / "eval" / f"{name}.npz"))
    feeds, _ = match_inputs(graph, eval_inputs)
    return graph, feeds


def _build_and_run(project: Path, feeds: dict, cflags: str) -> subprocess.CompletedProcess:
    subprocess.run(
        ["make", "-C", str(project), f"CFLAGS={cflags}"],
        check=True, capture_output=True, env=_clean_environment(),
    )
    data, _ = pack_inputs(feeds, read_metadata(project)["inputs"])
    (project / "input.bin").write_bytes(data)
    environment = dict(_clean_environment(), ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")
    return subprocess.run(
        [str((project / "build" / "model.elf").resolve())], cwd=project, check=False,
        capture_output=True, text=True, env=environment, timeout=300,
    )


def _clean_environment() -> dict[str, str]:
    skip = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    return {k: v for k, v in os.environ.items() if k not in skip}


def _shrink_arena(project: Path, by: int) -> int:
    header = project / "model.h"
    text = header.read_text()
    size = int(re.search(r"#define MODEL_ARENA_SIZE (\d+)", text).group(1))
    header.write_text(text.replace(f"MODEL_ARENA_SIZE {size}", f"MODEL_ARENA_SIZE {size - by}"))
    return size


@pytest.mark.parametrize("name", MLPERF_TINY)
def test_arena_guard_asan_eval_inputs_bit_exact(models, tmp_path, name):
    project = tmp_path / name
    graph, feeds = _compile(models, name, project)

    result = _build_and_run(project, feeds, f"{HOST_CFLAGS} {ASAN_FLAGS}")

    assert result.returncode == 0, result.stderr[-2000:]
    assert "AddressSanitizer" not in result.stderr
    metadata = read_metadata(project)
    count = len(next(iter(feeds.values())))
    outputs = unpack_outputs((project / "output.bin").read_bytes(), metadata["outputs"], count)
    expected = run_samples(graph, feeds)
    for port, name_in_graph in zip(metadata["outputs"], graph.outputs):
        got = outputs[port["name"]].reshape(expected[name_in_graph].shape)
        np.testing.assert_array_equal(got, expected[name_in_graph])


def test_arena_guard_asan_catches_a_short_arena(models, tmp_path):
    project = tmp_path / "kws"
    _, feeds = _compile(models, "keyword_spotting", project)
    _shrink_arena(project, 16)

    result = _build_and_run(project, feeds, f"{HOST_CFLAGS} {ASAN_FLAGS}")

    assert result.returncode != 0
    assert "AddressSanitizer" in result.stderr


def test_arena_guard_pattern_catches_a_short_arena(models, tmp_path):
    project = tmp_path / "kws"
    _, feeds = _compile(models, "keyword_spotting", project)
    _shrink_arena(project, 16)

    result = _build_and_run(project, feeds, HOST_CFLAGS)

    assert result.returncode == 1
    assert "a kernel wrote outside the arena on sample 0" in result.stderr


def test_extra_cflags_build_and_rebuild(models, tmp_path, monkeypatch):
    project = tmp_path / "kws"
    _, feeds = _compile(models, "keyword_spotting", project)
    binary = project / "build" / "model.elf"

    monkeypatch.setenv("EXTRA_CFLAGS", f"{ASAN_FLAGS} -DEDGEC_ARENA_GUARD")
    checked = run_project(project, feeds)
    checked_symbols = _symbols(binary)
    monkeypatch.delenv("EXTRA_CFLAGS")
    plain = run_project(project, feeds)

    assert "__asan_init" in checked_symbols
    assert "model_arena_guard_intact" in checked_symbols
    assert "__asan_init" not in _symbols(binary)
    for name in checked:
        np.testing.assert_array_equal(checked[name], plain[name])


def _symbols(binary: Path) -> str:
    return subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
