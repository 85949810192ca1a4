"""Check this machine for the companion: what a bug report needs.

Python, the pinned packages, the device and whether the book's largest model fits it, the offline catalogue and the
Hub switches. Each problem line names its fix; the exit status is 1 when there is one.

    python -m tools.doctor

Hashing the whole catalogue (about 390 MB) takes about 1 s with a warm disk cache; the doctor about 3 s in all."""
import argparse
import importlib.metadata as md
import os
import platform
import sys

import torch

from utils import assets, models
from utils.devices import dtype_for, resolve_device

from . import pins

BOOK_MODEL, BOOK_PARAMETERS = "microsoft/Phi-3-mini-4k-instruct", 3.82e9   # the book profile's largest model
SETUP = "make setup   (it installs requirements.lock)"
SMALLER = ("use the offline profile, which needs no GPU (python -m tools.run --profile offline), or for the book "
           "profile a machine with more memory (on Colab: Runtime > Change runtime type > T4 GPU)")


def _packages():
    expected, rows = {**pins.locked(), **pins.read()}, []
    for name, pinned in expected.items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            rows.append(("package", f"{name} is not installed (the lock pins {pinned})", False, SETUP))
            continue
        if installed.split("+")[0] != pinned:     # torch's local tag (+cpu, +cu121) is not part of the pin
            rows.append(("package", f"{name} {installed} is installed, the lock pins {pinned}", False, SETUP))
    matching = len(expected) - len(rows)
    return [("packages", f"{matching} of {len(expected)} in requirements.txt and requirements.lock match", True,
             None)] + rows


def _memory(device):
    """(description, bytes) of the memory the model would live in; bytes is None where it cannot be read."""
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        return f"{props.name}, {props.total_memory / 1e9:.1f} GB", props.total_memory
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # not POSIX
        return "RAM unknown", None
    return f"{ram / 1e9:.1f} GB RAM", ram


def _device():
    device = resolve_device("auto", verbose=False)
    text, memory = _memory(device)
    dtype = dtype_for(device)
    need = BOOK_PARAMETERS * dtype.itemsize
    size = (f"{BOOK_MODEL} needs {need / 1e9:.1f} GB "
            f"({BOOK_PARAMETERS / 1e9:.2f}B parameters x {dtype.itemsize} bytes, "
            f"{str(dtype).removeprefix('torch.')})")
    if memory is None:
        fit = ("book model", f"{size}; this machine's memory is unknown", True, None)
    elif need > memory:
        fit = ("book model", f"{size}, {device} has {memory / 1e9:.1f} GB: does not fit", False, SMALLER)
    else:
        slow = "; it will run on the CPU, but slowly" if device == "cpu" else ""
        fit = ("book model", f"{size}, {device} has {memory / 1e9:.1f} GB: fits{slow}", True, None)
    return [("device", f"{device} (what device='auto' picks): {text}", True, None), fit]


def _catalogue():
    rows = []
    for key, asset in assets.CATALOGUE.items():
        try:
            assets.folder(key)                      # version and sha256 of every file, as notebooks check them
        except assets.AssetError as err:
            text, _, fix = str(err).partition(" Fix: ")
            rows.append(("asset", text.split(". ")[0], False, fix or assets.INSTALL_HINT))
            continue
        state = f"{assets.PREFIX + key}: {asset.package}=={asset.version}, sha256 ok"
        if asset.format not in models.CONVERTED:
            rows.append(("asset", state, True, None))
        elif models.converted_folder(key).is_dir():
            rows.append(("asset", state + ", converted", True, None))
        else:
            rows.append(("asset", f"{state}, not converted ({models.converted_folder(key)} is missing)", False,
                         assets.INSTALL_HINT))
    return rows


def _hub():
    from huggingface_hub import constants
    switches = ", ".join(f"{var}={os.environ.get(var, '(unset)')}" for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    state = ("off: only offline: assets and ids already cached load" if models.switched_on("HF_HUB_OFFLINE") else
             "on: book ids download on first use")
    return [("hub", f"{switches}, HF_HOME={constants.HF_HOME}; the Hub is {state}", True, None)]


def diagnose():
    """(label, text, ok, fix) rows; fix says what to run where ok is False."""
    python = ("python", f"{platform.python_version()} ({sys.executable})", True, None)
    return [python] + _packages() + _device() + _catalogue() + _hub()


def main(argv=None):
    argparse.ArgumentParser(prog="python -m tools.doctor", description=__doc__.split("\n\n")[0]).parse_args(argv)
    rows = diagnose()
    for label, text, ok, fix in rows:
        print(f"{'ok' if ok else 'FAIL':<5} {label:<10} {text}")
        if fix:
            print(f"{'':<16} fix: {fix}")
    problems = sum(not row[2] for row in rows)
    print(f"{problems} problem(s) found." if problems else "All good.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
