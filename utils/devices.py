"""Pick a device and a dtype that suits it, and seed every random generator in one call."""
import random
import re

import numpy as np
import torch

DEVICE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")   # the device names a chapter accepts


class DeviceNotAvailable(RuntimeError):
    """Raised when a notebook asks for a device this machine does not have."""


def _available():
    found = ["cpu"]
    if torch.cuda.is_available():
        found.insert(0, "cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.insert(len(found) - 1, "mps")
    return found


def resolve_device(device="auto", verbose=True):
    """Return "cuda", "mps" or "cpu". "auto" takes the first present in that order and says which.

    A malformed device, or an explicit one that is not present, raises DeviceNotAvailable before any model is
    loaded."""
    if not DEVICE.fullmatch(str(device)):
        raise DeviceNotAvailable(f"Unknown device {device!r}. Use 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'.")
    available = _available()
    if device == "auto":
        chosen = available[0]
        if verbose:
            print(f"device='auto' -> using {chosen!r} (available: {', '.join(available)})")
        return chosen
    kind, _, index = str(device).partition(":")
    if kind not in available:
        hint = ("On Colab: Runtime > Change runtime type > T4 GPU. "
                if kind == "cuda" else "")
        raise DeviceNotAvailable(
            f"device={device!r} was requested but this machine only has: {', '.join(available)}. "
            f"{hint}Or run with device='auto' (papermill: -p device auto).")
    if index and int(index) >= torch.cuda.device_count():
        raise DeviceNotAvailable(
            f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) present. Use 'cuda' or 'auto'.")
    return str(device)


DTYPES = ("float32", "bfloat16", "float16")   # the dtypes a chapter's `dtype` parameter may name


def dtype_for(device, requested=None, capability=None):
    """The dtype a model runs in: `requested` ("float32", "bfloat16" or "float16") when given, else what suits the
    device: bf16 on Ampere or newer, fp16 on older GPUs (Colab's T4) and on Apple's mps, fp32 on the CPU (half
    precision is slow there unless the CPU computes in bfloat16 natively; `requested="bfloat16"` halves the
    memory)."""
    if requested is not None:
        if requested not in DTYPES:
            raise ValueError(f"dtype={requested!r}: use None (what suits the device) or one of {', '.join(DTYPES)}.")
        return getattr(torch, requested)
    kind = str(device).split(":")[0]
    if kind == "cuda":
        major, _ = capability or torch.cuda.get_device_capability(device)
        return torch.bfloat16 if major >= 8 else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.float32


def seed_everything(seed):
    """Seed Python, NumPy and torch (all devices) so that sampling and training repeat exactly. (String hashing
    is fixed per process by PYTHONHASHSEED, which the runner and the tests set before the kernel starts.)"""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed
