"""The pinned numeric environment: every knob is honoured by the pinned library versions, and every kernel that
executes a chapter offline (runner, `make record`, nbval) starts with it."""
import json
import os
import subprocess
import sys

import pytest

from tools import numerics, run

x86_only = pytest.mark.skipif(not numerics.is_x86(), reason="instruction-set knobs exist on x86-64 only")
DESCRIBE = "import json; from tools import numerics; print(json.dumps(numerics.describe()))"


def python(code, env):
    """Run `code` in a fresh interpreter (the knobs are read when a library loads) with exactly this environment."""
    base = {k: v for k, v in os.environ.items() if k not in numerics.X86 and k not in numerics.THREADS}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          timeout=120, cwd=run.ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def check_pinned(found):
    assert "X86_V4" not in found["numpy"] and "AVX512_ICL" not in found["numpy"]
    assert found["openblas"] and all(arch == "Haswell" for arch in found["openblas"])
    assert found["aten"] in ("AVX2", "DEFAULT")              # DEFAULT only on a machine without AVX2
    assert found["mkl_cbwr"] == "COMPATIBLE"
    assert found["numba"] == "haswell" and found["torch_threads"] == 1


def test_offline_kernels_get_the_pinned_environment():
    assert numerics.pinned_env().items() <= run.OFFLINE_ENV.items()
    assert ("MKL_CBWR" in numerics.pinned_env()) == numerics.is_x86()


@x86_only
def test_each_knob_is_honoured_by_the_installed_libraries():
    check_pinned(json.loads(python(DESCRIBE, numerics.pinned_env()).stdout))


@x86_only
def test_onednn_and_numba_generate_no_avx512_code():
    gelu = "import torch; torch.nn.functional.gelu(torch.ones(2, 4, 1536))"
    log = python(gelu, {**numerics.pinned_env(), "ONEDNN_VERBOSE": "1"}).stdout
    assert "isa:Intel AVX2" in log and "avx512" not in log.split("isa:", 1)[1].splitlines()[0].lower()
    kernel = ("import numba, numpy as np\n"
              "f = numba.njit(fastmath=True)(lambda a: (a * a).sum())\n"
              "f(np.ones(1000, np.float32))\n"
              "print('zmm' in next(iter(f.inspect_asm().values())))")
    assert python(kernel, numerics.pinned_env()).stdout.strip() == "False"


def test_the_runner_and_record_start_kernels_pinned(tiny_chapters, tmp_path, monkeypatch):
    tiny_chapters("ch97_numerics", "value = 1",
                  "from tools import numerics\nfrom utils.notebook import record\nrecord(**numerics.describe())",
                  offline="value: 2\n")
    for var in numerics.pinned_env():          # the runner must set them itself, whatever the caller's shell has
        monkeypatch.delenv(var, raising=False)
    assert run.main(["--out", str(tmp_path / "build")]) == 0
    found = json.loads((tmp_path / "build" / "report.json").read_text())[0]["results"]
    if numerics.is_x86():
        check_pinned(found)
    assert found["torch_threads"] == 1


def test_nbval_kernels_start_pinned():
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
    kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME, cwd=str(run.ROOT))
    try:
        printed = []
        kernel.kc.execute_interactive(DESCRIBE, timeout=120,
                                      output_hook=lambda m: printed.append(m["content"].get("text", "")))
    finally:
        kernel.stop()
    found = json.loads("".join(printed))
    if numerics.is_x86():
        check_pinned(found)
    assert found["torch_threads"] == 1


def test_numpy_before_2_4_gets_its_own_names_for_the_avx512_groups(monkeypatch):
    import importlib.metadata as md
    monkeypatch.setattr(md, "version", lambda name: {"numpy": "2.1.3"}[name])
    assert "AVX512F" in numerics._numpy_avx512().split() and "X86_V4" not in numerics._numpy_avx512()
    monkeypatch.setattr(md, "version", lambda name: {"numpy": "2.4.6"}[name])
    assert numerics._numpy_avx512() == numerics.X86["NPY_DISABLE_CPU_FEATURES"]
