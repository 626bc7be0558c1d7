"""Build hook: copy the C runtime, templates and target files into the wheel.

They live at the repository root (runtime_c/, templates/, targets/), so a checkout reads
them in place. An installed wheel carries copies under edgec/data/, where
``edgec.resources`` looks first.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("runtime_c", "templates", "targets")


class BuildWithData(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        destination = Path(self.build_lib) / "edgec" / "data"
        for folder in DATA_FOLDERS:
            target = destination / folder
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / folder, target)


setup(cmdclass={"build_py": BuildWithData})
