"""The Makefile's set-up fails loudly anywhere: a failing pipeline fails its target even where make ignores
.SHELLFLAGS (macOS's make 3.81), an old Python stops at once with one sentence, the environment is made again when a
pin changes, torch cannot change what the lock installed, `make colab` sets up first, `make clean` says what it
leaves. Each check runs make itself (dry runs, or targets in a temporary folder)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import pins
from utils.paths import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None or os.name != "posix",
                                reason="needs make and a POSIX shell (the Makefile's recipes are bash)")


# what a calling make passes its children (`make -s test-fast` runs these tests): left out, so that the make each
# test starts sees only the flags the test gives it
CALLERS_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR")


def clean_env(**extra):
    return {**{k: v for k, v in os.environ.items() if k not in CALLERS_MAKE}, **extra}


def make(*args, cwd=ROOT, env=None):
    return subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env or clean_env())


def test_a_failing_pipeline_fails_its_target_where_make_ignores_shellflags(tmp_path):
    (tmp_path / "pipe.mk").write_text(f"include {ROOT / 'Makefile'}\npipe:\n\tfalse | true\n")
    as_make_381 = subprocess.run(["make", "-f", str(tmp_path / "pipe.mk"), "pipe", ".SHELLFLAGS=-c"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60, env=clean_env())
    assert as_make_381.returncode != 0, as_make_381.stdout


def test_an_old_python_stops_at_once_with_one_sentence(tmp_path):
    real = Path(sys.executable).resolve()
    old = tmp_path / "python3.9"                                # answers as Python 3.9.6 would
    pretend = "import sys; sys.version_info = (3, 9, 6, 'final', 0); exec(sys.argv[1])"
    old.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.6"; exit 0; fi\n'
                   f'exec "{real}" -c "{pretend}" "$2"\n')
    old.chmod(0o755)
    venv = tmp_path / "venv"
    done = make(f"{venv}/.installed", f"VENV={venv}", f"PYTHON={old}")
    assert done.returncode != 0 and not venv.exists()
    assert done.stderr.splitlines()[0] == (f"The companion needs Python 3.11, 3.12 or 3.13, and {old} is Python 3.9.6: "
                                           "install one and run make again with PYTHON=python3.12 (for instance).")
    assert make(f"{venv}/.installed", f"VENV={venv}", f"PYTHON={real}", "-n").returncode == 0   # 3.11 passes


@pytest.mark.parametrize("pin_file", ["requirements.txt", "requirements.lock", "pyproject.toml"])
def test_the_environment_is_made_again_when_a_pin_changes(tmp_path, pin_file):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed").touch()                               # newer than every pin file
    assert "is up to date" in make(f"{venv}/.installed", f"VENV={venv}", "-n").stdout
    assert f"-m venv {venv}" in make(f"{venv}/.installed", f"VENV={venv}", "-n", "-W", pin_file).stdout


def test_torch_goes_in_without_dependencies_and_its_missing_ones_with_the_lock_as_constraints(tmp_path):
    plan = make(f"{tmp_path}/.installed", f"VENV={tmp_path}", "-n").stdout
    assert f"pip install --quiet --no-deps torch=={pins.read()['torch']}" in plan
    assert "tools.pins unmet torch" in plan and "-c requirements.lock" in plan


def test_make_colab_sets_up_first_on_a_fresh_clone(tmp_path):
    plan = make("colab", f"VENV={tmp_path / 'fresh'}", "-n").stdout.splitlines()
    assert plan.index(f"python3 -m venv {tmp_path / 'fresh'}") < plan.index(
        f"{tmp_path / 'fresh'}/bin/python -m tools.colab")


def test_make_clean_removes_build_and_says_what_it_keeps(tmp_path):
    (tmp_path / "build" / "ch01").mkdir(parents=True)
    done = make("clean", cwd=tmp_path)
    assert done.returncode == 0 and not (tmp_path / "build").exists()
    assert "Kept .venv/" in done.stdout and ".cache/" in done.stdout


# a sitecustomize for every Python that make starts: a connection attempt to anything is written down, then refused
NO_SOCKETS = """import socket, sys
def _refuse(self, address, *args):
    with open({log!r}, "a") as log:
        log.write(f"{{sys.argv}} tried {{address!r}}\\n")
    raise OSError("this test allows no connection")
socket.socket.connect = socket.socket.connect_ex = _refuse
socket.getaddrinfo = lambda host, port, *args, **kwargs: _refuse(None, (host, port))   # a name looked up, too
"""


@pytest.mark.parametrize("target", ["setup", "test-fast", "colab-stack"])
def test_parsing_the_makefile_and_printing_a_plan_opens_no_socket(tmp_path, target):
    """`make -n` on a fresh clone (no environment yet: every recipe is expanded to be printed) starts Pythons for its
    variables; none of them may reach the network. The torch index is probed only when its recipe runs."""
    log = tmp_path / "connections.log"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_SOCKETS.format(log=str(log)))
    env = clean_env(PYTHONPATH=str(tmp_path / "site"))
    done = make(target, "-n", f"VENV={tmp_path / 'fresh'}", f"COLAB_VENV={tmp_path / 'colab'}", "TORCH_BUILD=cpu",
                env=env)
    assert done.returncode == 0, done.stderr
    assert "download.pytorch.org" in done.stdout                  # the probe is in the plan, as shell code
    assert not log.exists(), log.read_text()


def test_the_socket_guard_itself_sees_a_connection_attempt(tmp_path):
    log = tmp_path / "connections.log"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_SOCKETS.format(log=str(log)))
    probe = "import socket; socket.create_connection(('download.pytorch.org', 443), 3)"
    subprocess.run([sys.executable, "-c", probe], env=clean_env(PYTHONPATH=str(tmp_path / "site")),
                   capture_output=True, timeout=30)
    assert "443" in log.read_text()
