"""requirements.lock and the pinned torch install from wheels on each supported platform and Python (uv against the
package index, nothing installed). Resolved again only when the pins, the lock, the Colab freeze, uv or this file
change (tests/conftest.py keeps a stamp per platform and Python; --index-again resolves anyway)."""
import subprocess
import sys

import pytest
from test_colab import wheels_only_but

from tools import pins
from utils.paths import ROOT


@pytest.mark.index
@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
@pytest.mark.parametrize("platform", ["x86_64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"])
def test_the_lock_and_torch_install_from_wheels_on_each_supported_platform(tmp_path, platform, python, monkeypatch):
    monkeypatch.setenv("MACOSX_DEPLOYMENT_TARGET", "14.0")        # torch 2.13's macOS wheels are for 14 and newer
    requirements = tmp_path / "requirements.txt"                  # the lock's hashes are checked where it installs
    requirements.write_text(f"-r {ROOT / 'requirements.lock'}\ntorch=={pins.read()['torch']}\n")
    done = subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--dry-run", "--no-deps", "-r",
                           str(requirements), "--python-version", python, "--python-platform", platform,
                           *wheels_only_but(platform), "--target", str(tmp_path / "target"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
