"""Check this machine for the companion: what a bug report needs.

First the versions a bug report starts with (Python; torch and its build: CPU, or the CUDA it was built for;
transformers, sentence-transformers), then every package against the lock, the machine (OS and distribution, CPU
architecture and the instruction set its float kernels use, AVX-512 or AVX2, which changes printed digits; the
companion's commit; the GPU's name, driver and CUDA where there is one), the device and whether the book's largest
model fits it (utils/memory.py), the offline catalogue and the Hub switches. A problem (FAIL) names its fix and makes
the exit status 1; a warning (WARN) does not: the book's model not fitting this machine still leaves the offline
profile, which needs no GPU.

    python -m tools.doctor

Hashing the whole catalogue (about 390 MB) takes about 1 s with a warm disk cache; the doctor about 3 s in all."""
import argparse
import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from utils import assets, memory, models
from utils.devices import dtype_for, resolve_device
from utils.paths import ROOT

from . import pins

# the book profile's largest model and its parameters, read from its configuration (tests/test_memory.py counts them
# from Phi-3-mini's configuration); the doctor does not reach for the Hub to read it
BOOK_MODEL, BOOK_PARAMETERS = "microsoft/Phi-3-mini-4k-instruct", 3_821_079_552
SETUP = "make setup   (it installs requirements.lock)"
FIRST = ("transformers", "sentence-transformers")      # after torch: the versions a bug report names first


def torch_build():
    """torch's version and what it was built for: CUDA x.y, ROCm, or the CPU (with MPS on Apple silicon)."""
    if torch.version.cuda:
        build = f"CUDA {torch.version.cuda} build"
    elif getattr(torch.version, "hip", None):
        build = f"ROCm {torch.version.hip} build"
    elif torch.backends.mps.is_built():
        build = "CPU and MPS build"
    else:
        build = "CPU build"
    return f"{torch.__version__} ({build})"


def _versions():
    rows = [("python", f"{platform.python_version()} ({sys.executable})", "ok", None),
            ("torch", torch_build(), "ok", None)]
    for name in FIRST:
        try:
            rows.append((name, md.version(name), "ok", None))
        except md.PackageNotFoundError:
            rows.append((name, f"{name} is not installed (the lock pins {pins.read().get(name, '?')})", "FAIL", SETUP))
    return rows


def _packages():
    expected, rows = {**pins.locked(), **pins.read()}, []
    for name, pinned in expected.items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            rows.append(("package", f"{name} is not installed (the lock pins {pinned})", "FAIL", SETUP))
            continue
        if installed.split("+")[0] != pinned:     # torch's local tag (+cpu, +cu121) is not part of the pin
            rows.append(("package", f"{name} {installed} is installed, the lock pins {pinned}", "FAIL", SETUP))
    matching = len(expected) - len(rows)
    return [("packages", f"{matching} of {len(expected)} in requirements.txt and requirements.lock match", "ok",
             None)] + rows


def os_name(os_release="/etc/os-release"):
    """The operating system and, on Linux, the distribution (os-release's PRETTY_NAME)."""
    system = platform.system()
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]} (Darwin {platform.release()})"
    if system == "Windows":
        return f"Windows {platform.release()} ({platform.version()})"
    try:
        fields = dict(line.split("=", 1) for line in Path(os_release).read_text().splitlines() if "=" in line)
        distribution = fields.get("PRETTY_NAME", "").strip().strip('"')
    except OSError:
        distribution = ""
    return f"{system} {platform.release()}" + (f", {distribution}" if distribution else "")


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name where the system says it (Linux), else what platform knows."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU model unknown"


def instruction_set():
    """The widest vector instructions torch's kernels use here (AVX512, AVX2, ... on x86; NEON/SVE on arm64), as
    torch detects them; numpy, OpenBLAS, MKL and numba dispatch on the same flags."""
    capability = torch.backends.cpu.get_cpu_capability()
    return {"AVX512": "AVX-512", "AVX2": "AVX2", "DEFAULT": "neither AVX-512 nor AVX2"}.get(capability, capability)


def _command(*command):
    """A command's output, or None where it is missing or fails (within 5 s)."""
    if not shutil.which(command[0]):
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def companion_commit(root=ROOT):
    """The companion's commit (and whether files differ from it), or that it is not a git clone."""
    if not (Path(root) / ".git").exists():
        return "not a git clone (a download or a copy: say where it came from)"
    commit = _command("git", "-C", str(root), "log", "-1", "--format=%h %cs")
    if commit is None:
        return "a git clone, but git could not read it (is git installed?)"
    changed = _command("git", "-C", str(root), "status", "--porcelain", "--untracked-files=no")
    return f"{commit}" + (", with local changes" if changed else "")


def gpu():
    """The GPU's name, its driver and the CUDA torch runs on, or that there is none."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        driver = _command("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader")
        driver = driver.splitlines()[0] if driver else "unknown (nvidia-smi not found)"
        count = torch.cuda.device_count()
        return (f"{name}" + (f" (and {count - 1} more)" if count > 1 else "")
                + f", driver {driver}, CUDA {torch.version.cuda or torch.version.hip} (torch's)")
    if torch.backends.mps.is_available():
        return "Apple silicon GPU (MPS)"
    return "none found by torch (the offline profile needs none)"


def _machine():
    return [("system", os_name(), "ok", None),
            ("cpu", f"{platform.machine()}, {instruction_set()}, {os.cpu_count()} cores: {cpu_name()}", "ok", None),
            ("companion", companion_commit(), "ok", None),
            ("gpu", gpu(), "ok", None)]


def _device(free=None):
    """The device that device='auto' picks and whether the book's model fits it; `free` (bytes) replaces the
    measured memory (tests)."""
    device = resolve_device("auto", verbose=False)
    have, where = (free, f"{device} with {free / 1e9:.1f} GB free") if free is not None else memory.available(device)
    rows = [("device", f"{device} (what device='auto' picks): {where}", "ok", None)]
    dtype = dtype_for(device)
    try:
        need = memory.check_memory([BOOK_MODEL], device, dtype, free=have, counts={BOOK_MODEL: BOOK_PARAMETERS},
                                   verbose=False)
    except memory.NotEnoughMemory as err:
        text, _, fixes = str(err).partition(" Nothing has been downloaded. Fixes: ")
        return rows + [("book model", text.removeprefix("Not enough memory: ").rstrip(".") + ": does not fit", "WARN",
                        fixes)]
    slow = "; it will run on the CPU, but slowly" if device == "cpu" else ""
    return rows + [("book model", f"{BOOK_MODEL} needs {need / 1e9:.1f} GB ({str(dtype).removeprefix('torch.')}, "
                                  f"with the margin); {where}: fits{slow}", "ok", None)]


def _catalogue():
    rows = []
    for key, asset in assets.CATALOGUE.items():
        try:
            assets.folder(key)                      # version and sha256 of every file, as notebooks check them
        except assets.AssetError as err:
            text, _, fix = str(err).partition(" Fix: ")
            rows.append(("asset", text.split(". ")[0], "FAIL", fix or assets.INSTALL_HINT))
            continue
        state = f"{assets.PREFIX + key}: {asset.pinned}, sha256 ok"
        if asset.format not in models.CONVERTED:
            rows.append(("asset", state, "ok", None))
        elif models.converted_folder(key).is_dir():
            rows.append(("asset", state + ", converted", "ok", None))
        else:
            rows.append(("asset", f"{state}, not converted ({models.converted_folder(key)} is missing)", "FAIL",
                         assets.INSTALL_HINT))
    return rows


def _hub():
    from huggingface_hub import constants
    switches = ", ".join(f"{var}={os.environ.get(var, '(unset)')}" for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    state = ("off: only offline: assets and ids already cached load" if models.switched_on("HF_HUB_OFFLINE") else
             "on: book ids download on first use")
    return [("hub", f"{switches}, HF_HOME={constants.HF_HOME}; the Hub is {state}", "ok", None)]


def diagnose(free=None):
    """(label, text, status, fix) rows, status "ok", "WARN" or "FAIL"; fix says what to do where it is not ok.
    `free` (bytes) replaces the device's measured memory (tests)."""
    return _versions() + _packages() + _machine() + _device(free) + _catalogue() + _hub()


def main(argv=None, free=None):
    argparse.ArgumentParser(prog="python -m tools.doctor", description=__doc__.split("\n\n")[0]).parse_args(argv)
    rows = diagnose(free)
    for label, text, status, fix in rows:
        print(f"{status:<5} {label:<21} {text}")
        if fix:
            print(f"{'':<27} fix: {fix}")
    problems = sum(row[2] == "FAIL" for row in rows)
    warnings = sum(row[2] == "WARN" for row in rows)
    print(f"{problems} problem(s) found." if problems else
          f"All good, {warnings} warning(s)." if warnings else "All good.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
