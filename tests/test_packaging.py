"""The wheel carries the C runtime, templates and targets, so `edgec` works without a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPOSITORY


@pytest.mark.slow
def test_wheel_compiles_without_checkout(models, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path),
         str(REPOSITORY)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    wheel = next(tmp_path.glob("edgec-*.whl"))
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)

    assert "edgec/data/targets/cortex-m4.toml" in names
    assert "edgec/data/templates/model.c.j2" in names
    assert "edgec/data/runtime_c/kernels/ref/conv2d_s8.c" in names

    # Run from a folder outside the checkout with only the unpacked wheel on the path.
    env = dict(os.environ, PYTHONPATH=str(unpacked))
    project = tmp_path / "project"
    script = (
        "import edgec.resources as r; print(r.runtime_dir());"
        "from edgec.cli import main; import sys;"
        f"sys.exit(main(['compile', r'{models / 'tflite' / 'anomaly_detection_int8.tflite'}',"
        f" '--target', 'host', '--output', r'{project}']))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stderr
    assert str(unpacked) in result.stdout
    assert (project / "kernels" / "ref" / "fully_connected_s8.c").is_file()
    build = subprocess.run(["make", "-C", str(project)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout
