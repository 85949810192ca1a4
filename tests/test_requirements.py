"""requirements.txt, environment.yml and the installed environment agree."""
import re

import yaml

from tools import doctor
from tools import pins as utils_pins
from utils.paths import ROOT


def pins(lines):
    return dict(line.split("==") for line in lines)


def requirement_lines():
    return [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_every_requirement_is_an_exact_pin_and_torch_has_no_local_tag():
    lines = requirement_lines()
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==\d[\w.]*", line) for line in lines), lines
    assert "torch==2.13.0" in lines          # exact: a range would pull a CUDA build of a newer torch


def test_environment_yml_installs_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == pins(requirement_lines())
    assert any(re.fullmatch(r"python=3\.1[12]", d) for d in env["dependencies"] if isinstance(d, str))


def test_the_installed_environment_matches_the_pins():
    wrong = [text for label, text, ok, _ in doctor._packages() if not ok]      # the doctor's own comparison
    assert not wrong, f"installed versions differ from requirements.txt (run make setup): {wrong}"
    direct = pins(requirement_lines())
    assert utils_pins.read() == {utils_pins.normalized(name): version for name, version in direct.items()}


LOCK = (ROOT / "requirements.lock").read_text()
TORCH_STACK = re.compile(r"(torch|triton|nvidia-.*|cuda-.*)")


def test_the_lock_holds_every_pin_at_its_version_with_hashes_and_no_torch_build():
    entries = re.findall(r"^([a-z0-9][\w.-]*)==([^\s;]+)(?: ;[^\\\n]*)? \\\n((?:    --hash=sha256:\w{64}(?: \\)?\n)+)",
                         LOCK, flags=re.M)
    assert len(entries) == len(re.findall(r"^[a-z0-9]", LOCK, flags=re.M))      # every entry carries its hashes
    locked = {}
    for name, version, _ in entries:
        locked.setdefault(name, set()).add(version)
    for name, version in pins(requirement_lines()).items():
        key = name.lower().replace("_", "-")
        assert key in locked or TORCH_STACK.fullmatch(key), f"{name} is pinned but not locked: run make lock"
        assert TORCH_STACK.fullmatch(key) or locked[key] == {version}, f"{name}: lock {locked[key]} != pin {version}"
    assert not [name for name in locked if TORCH_STACK.fullmatch(name)]   # torch's build is chosen by make setup
    assert "#    make lock" in LOCK.splitlines()[1]


def test_the_installed_environment_matches_the_lock():
    locked = utils_pins.locked()
    assert len(locked) > 2 * len(requirement_lines())                    # the transitive packages are there too
    assert {"jinja2", "pyyaml", "nbformat", "ipython"} <= set(locked)     # imported directly, pinned only here
    assert all(ok for _, _, ok, _ in doctor._packages())
