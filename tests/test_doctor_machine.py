"""The doctor as a reader runs it for a bug report (`make doctor`): the machine's lines (OS and distribution, CPU
architecture and instruction set, the companion's commit, the GPU) and one wording for every FAIL line, each with its
fix on the next line. Its package-count test lives in tests/test_doctor.py."""
import re
import subprocess
import sys
import time

import torch

from tools import doctor

FAIL = re.compile(r"^FAIL  (?P<label>\S+) +(?P<subject>\S+) (?P<problem>.+)$")


def test_the_doctor_run_as_a_reader_runs_it_names_the_machine_in_about_two_seconds():
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tools.doctor"], cwd=doctor.ROOT, capture_output=True, text=True,
                          timeout=120)
    elapsed = time.perf_counter() - start
    assert done.returncode in (0, 1), done.stderr
    rows = {line.split(None, 2)[1]: line.split(None, 2)[2] for line in done.stdout.splitlines()
            if line[:4] in ("ok  ", "WARN", "FAIL") and len(line.split(None, 2)) == 3}
    assert rows["system"] == doctor.os_name() and rows["system"].split()[0] in ("Linux", "macOS", "Windows")
    assert re.match(r"(x86_64|AMD64|arm64|aarch64), (AVX-512|AVX2|neither AVX-512 nor AVX2|\w+), \d+ cores: ",
                    rows["cpu"]), rows["cpu"]
    head = subprocess.run(["git", "-C", str(doctor.ROOT), "log", "-1", "--format=%h"], capture_output=True,
                          text=True).stdout.strip()
    assert rows["companion"].startswith(head) if (doctor.ROOT / ".git").exists() else \
        rows["companion"].startswith("not a git clone")
    if torch.cuda.is_available():
        assert rows["gpu"].startswith(torch.cuda.get_device_name(0)) and "driver " in rows["gpu"]
        assert f"CUDA {torch.version.cuda}" in rows["gpu"]
    else:
        assert rows["gpu"].startswith(("none found", "Apple silicon"))
    assert elapsed < 20, f"{elapsed:.1f} s (about 2 s on a quiet machine, the interpreter's start included)"


def test_a_copy_that_is_not_a_git_clone_says_so(tmp_path):
    assert doctor.companion_commit(tmp_path) == "not a git clone (a download or a copy: say where it came from)"


def test_the_distribution_comes_from_os_release(tmp_path, monkeypatch):
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    monkeypatch.setattr(doctor.platform, "system", lambda: "Linux")
    monkeypatch.setattr(doctor.platform, "release", lambda: "6.1.0")
    assert doctor.os_name(release) == "Linux 6.1.0, Debian GNU/Linux 12 (bookworm)"
    assert doctor.os_name(tmp_path / "missing") == "Linux 6.1.0"


def test_the_instruction_set_is_what_torch_dispatches_to(monkeypatch):
    for capability, said in (("AVX512", "AVX-512"), ("AVX2", "AVX2"), ("DEFAULT", "neither AVX-512 nor AVX2")):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert doctor.instruction_set() == said


def test_every_fail_line_has_one_wording_and_a_fix(monkeypatch, capsys):
    import importlib.metadata as md
    real = md.version
    broken = {"sentence-transformers": None, "pandas": "1.5.0"}

    def version_of(package):
        if package not in broken:
            return real(package)
        if broken[package] is None:
            raise md.PackageNotFoundError(package)
        return broken[package]
    monkeypatch.setattr(doctor.md, "version", version_of)
    assert doctor.main([], free=64e9) == 1
    lines = capsys.readouterr().out.splitlines()
    fails = [i for i, line in enumerate(lines) if line.startswith("FAIL")]
    texts = [line.split(None, 2)[2] for line in (lines[i] for i in fails)]
    pinned = doctor.pins.read()
    assert texts.count(f"sentence-transformers is not installed (the lock pins {pinned['sentence-transformers']})") == 2
    assert f"pandas 1.5.0 is installed, the lock pins {pinned['pandas']}" in texts
    for i in fails:                                        # what, what is wrong; then the fix, on the next line
        assert FAIL.match(lines[i]), lines[i]
        assert lines[i + 1].split()[0] == "fix:", lines[i + 1]
