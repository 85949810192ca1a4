"""Pinned float kernels for the runs whose outputs are compared with recordings.

Two numerics: "pinned", for every kernel whose outputs are compared with recordings (`make record`, the nbval
replays), so that recordings replay bit for bit on any x86-64 CPU of the last ten years; and "native", the machine's
own kernels on all its cores, for every other run (`make run`, the rehearsal, the Colab stack, a reader's session).

Float kernels are chosen at run time by instruction set: the same seeded training gives other last bits on an
AVX-512 machine than on an AVX2 one, and a few hundred optimiser steps make those bits visible. Each library that
dispatches is pinned here to a level every such machine has (AVX2, Haswell 2013 / AMD Zen 2017), one thread each
(thread counts change the order of float sums). What each knob does was checked on the pinned versions; see
`describe()` and tests/test_numerics.py. Other architectures (arm64, Apple silicon) have no such knobs: there only
the thread counts are pinned, and `platform_note()` says what may differ."""
import os
import platform
import sys

from utils.paths import COMPUTED

THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}

# llvm's feature names for the Haswell level (numba compiles for the host's features unless told otherwise)
_HASWELL = ("+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fxsr,+lzcnt,+mmx,+movbe,+pclmul,+popcnt,"
            "+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave")

X86 = {
    # numpy's own loops: without this, AVX-512 machines use SVML's pow/exp/log, which round differently
    # (numpy 2.4 names the AVX-512 groups X86_V4, ...; `_numpy_avx512()` gives older numpys' names)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",        # numpy's and scipy's OpenBLAS (PCA, logistic regression)
    "MKL_CBWR": "COMPATIBLE",              # torch's MKL matmuls: the one reproducible branch on Intel and AMD alike
    "ATEN_CPU_CAPABILITY": "avx2",         # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",          # torch's oneDNN primitives (GELU in BERT-style encoders, ...)
    "NUMBA_CPU_NAME": "haswell",           # UMAP's and HDBSCAN's numba code
    "NUMBA_CPU_FEATURES": _HASWELL,
}


def is_x86():
    return platform.machine().lower() in ("x86_64", "amd64")


def _numpy_avx512():
    """numpy's names for its AVX-512 dispatch groups: numpy before 2.4 (Colab's 2.1, say) ignores unknown names."""
    import importlib.metadata as md
    major, minor = (int(part) for part in md.version("numpy").split(".")[:2])
    if (major, minor) >= (2, 4):
        return X86["NPY_DISABLE_CPU_FEATURES"]
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"


def pinned_env():
    """The environment variables to set before a chapter's kernel starts (they are read at library load)."""
    if not is_x86():
        return dict(THREADS)
    return {**THREADS, **X86, "NPY_DISABLE_CPU_FEATURES": _numpy_avx512()}


def environment(numerics):
    """The variables a chapter's kernel starts with for `numerics` ("pinned" or "native"). Pinned kernels keep what
    they compute (utils/cache.py) apart from native ones: a replay must not load embeddings that
    the machine's own kernels computed, whose last bits differ."""
    if numerics == "native":
        return {}
    if numerics != "pinned":
        raise ValueError(f"numerics is 'pinned' or 'native', not {numerics!r}")
    return {**pinned_env(), "HOLLM_COMPUTED": str(COMPUTED / "pinned")}


def summary(numerics):
    """One line for a run's report: which float kernels and how many threads its chapters ran with."""
    if numerics == "pinned":
        level = "x86-64 AVX2 level" if is_x86() else f"{platform.machine()}'s own kernels (no instruction-set knobs)"
        return f"numerics: pinned ({level}, one thread; tools/numerics.py), as the recordings were made"
    return (f"numerics: native (this machine's own float kernels, {os.cpu_count()} cores; a chapter's cpu_threads "
            "sets torch's threads)")


def platform_note():
    """One line for the test report: whether recordings can replay exactly on this machine."""
    if is_x86():
        return "numerics: pinned to x86-64 AVX2, one thread (tools/numerics.py): recordings replay exactly"
    return (f"numerics: {platform.machine()} has no instruction-set knobs; threads pinned only. Recordings were made "
            "on x86-64: trained or fitted numbers (chapter 2's word2vec losses and neighbours) may differ in the "
            "last digits here")


def describe():
    """What each library actually runs at in this process (call after the environment is set)."""
    import ctypes

    import numba
    import threadpoolctl
    import torch
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    found = {"numpy": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
             "openblas": sorted({i.get("architecture") for i in threadpoolctl.threadpool_info()
                                 if i["internal_api"] == "openblas"}),
             "aten": torch.backends.cpu.get_cpu_capability(),
             "torch_threads": torch.get_num_threads(),
             "numba": numba.config.CPU_NAME}
    if torch.backends.mkl.is_available() and sys.platform.startswith("linux"):   # MKL is linked into this .so
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        found["mkl_cbwr"] = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE"}.get(lib.mkl_serv_cbwr_get(1), "OTHER")
    return found
