"""The two numerics: every knob of the pinned environment takes effect in a started kernel (the kernel reports what
each library runs at), the kernels whose outputs are compared with recordings (`make record`, nbval) start pinned,
and the runner's default (`make run`) starts them on the machine's own kernels."""
import json
import os
import subprocess
import sys

import pytest

from tools import numerics, run

x86_only = pytest.mark.skipif(not numerics.is_x86(), reason="instruction-set knobs exist on x86-64 only")
DESCRIBE = "import json; from tools import numerics; print(json.dumps(numerics.describe()))"
KNOBS = {**numerics.X86, **numerics.THREADS}


def python(code, env):
    """Run `code` in a fresh interpreter (the knobs are read when a library loads) with exactly this environment."""
    base = {k: v for k, v in os.environ.items() if k not in KNOBS and k != "HOLLM_COMPUTED"}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          timeout=120, cwd=run.ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def check_pinned(found):
    if numerics.is_x86():
        assert "X86_V4" not in found["numpy"] and "AVX512_ICL" not in found["numpy"]
        assert found["openblas"] and all(arch == "Haswell" for arch in found["openblas"])
        assert found["aten"] in ("AVX2", "DEFAULT")              # DEFAULT only on a machine without AVX2
        assert found["mkl_cbwr"] == "COMPATIBLE"
        assert found["numba"] == "haswell"
    assert found["torch_threads"] == 1


def check_native(found):
    """The machine's own kernels: what a kernel started without any knob reports."""
    assert found == json.loads(python(DESCRIBE, {}).stdout)


@x86_only
def test_each_knob_changes_what_a_fresh_interpreter_runs_at():
    pinned = json.loads(python(DESCRIBE, numerics.pinned_env()).stdout)
    check_pinned(pinned)
    native = json.loads(python(DESCRIBE, {}).stdout)
    assert native["mkl_cbwr"] != "COMPATIBLE" and native["numba"] != "haswell"
    if os.cpu_count() > 1:
        assert native["torch_threads"] > 1


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


def describing_chapter(tiny_chapters, tmp_path, monkeypatch):
    """A one-cell chapter that records what its kernel runs at; recordings go to a temporary folder."""
    tiny_chapters("ch97_numerics", "value = 1",
                  "import sys\nfrom utils.paths import ROOT\nsys.path.insert(0, str(ROOT))   # tools is not installed\n"
                  "from tools import numerics\nfrom utils.notebook import record\nrecord(**numerics.describe())",
                  offline="value: 2\n")
    (tmp_path / "recordings").mkdir()
    monkeypatch.setattr(run, "RECORDINGS", tmp_path / "recordings")
    for var in [*KNOBS, "HOLLM_COMPUTED"]:     # the runner must set them itself, whatever the caller's shell has
        monkeypatch.delenv(var, raising=False)


def reported(tmp_path):
    return json.loads((tmp_path / "build" / "report.json").read_text())[0]["results"]


def test_record_starts_pinned_kernels_and_the_report_says_so(tiny_chapters, tmp_path, monkeypatch):
    describing_chapter(tiny_chapters, tmp_path, monkeypatch)
    assert run.main(["--record", "--out", str(tmp_path / "build")]) == 0
    check_pinned(reported(tmp_path))
    assert (tmp_path / "recordings" / "ch97_numerics.ipynb").exists()
    assert numerics.summary("pinned") in (tmp_path / "build" / "report.md").read_text()


def test_the_main_job_starts_native_kernels_and_the_report_says_so(tiny_chapters, tmp_path, monkeypatch):
    describing_chapter(tiny_chapters, tmp_path, monkeypatch)
    assert run.main(["--out", str(tmp_path / "build")]) == 0
    check_native(reported(tmp_path))
    assert numerics.summary("native") in (tmp_path / "build" / "report.md").read_text()


def test_record_refuses_native_numerics(tmp_path):
    with pytest.raises(SystemExit, match="pinned numerics"):
        run.main(["--record", "--numerics", "native", "--out", str(tmp_path)])


def test_pinned_kernels_keep_their_results_apart_from_native_ones():
    assert "HOLLM_COMPUTED" not in numerics.environment("native")
    assert numerics.environment("pinned")["HOLLM_COMPUTED"] != str(numerics.COMPUTED)
    with pytest.raises(ValueError, match="'pinned' or 'native'"):
        numerics.environment("fast")


@pytest.mark.notebook
def test_nbval_kernels_start_pinned():
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
    kernel = RunningKernel(CURRENT_ENV_KERNEL_NAME, cwd=str(run.ROOT))
    try:
        printed = []
        kernel.kc.execute_interactive(DESCRIBE, timeout=120,
                                      output_hook=lambda m: printed.append(m["content"].get("text", "")))
    finally:
        kernel.stop()
    check_pinned(json.loads("".join(printed)))


def test_numpy_before_2_4_gets_its_own_names_for_the_avx512_groups(monkeypatch):
    import importlib.metadata as md
    monkeypatch.setattr(md, "version", lambda name: {"numpy": "2.1.3"}[name])
    assert "AVX512F" in numerics._numpy_avx512().split() and "X86_V4" not in numerics._numpy_avx512()
    monkeypatch.setattr(md, "version", lambda name: {"numpy": "2.4.6"}[name])
    assert numerics._numpy_avx512() == numerics.X86["NPY_DISABLE_CPU_FEATURES"]
