"""colab/requirements.txt against Colab's published stack (colab/colab-gpu-pip-freeze.txt): it resolves for Colab's
Python 3.13 on manylinux x86_64 from wheels only, and changes nothing a Colab kernel has loaded. Needs PyPI."""
import base64
import hashlib
import subprocess
import sys
import zipfile

import pytest

from tools import colab, pins

COLAB_PYTHON, COLAB_PLATFORM = "3.13", "x86_64-manylinux_2_28"
# the only packages without a wheel: datamapplot's pyqtree (pure Python, sdist only) everywhere, and its rcssmin and
# rjsmin (C with a pure-Python fallback) on macOS and Windows, where PyPI has Linux wheels only
SOURCE_BUILDS = {"linux": ["pyqtree"], "darwin": ["pyqtree", "rcssmin", "rjsmin"],
                 "windows": ["pyqtree", "rcssmin", "rjsmin"]}


def wheels_only_but(platform):
    """uv's options for: wheels only, except the known source builds of `platform`."""
    system = next(name for name in SOURCE_BUILDS if name in platform.replace("manylinux", "linux"))
    return ["--only-binary", ":all:"] + [option for name in SOURCE_BUILDS[system] for option in ("--no-binary", name)]


def metadata_only_wheel(folder, name, version):
    """A wheel with nothing but its metadata: stands in for Colab's installed CUDA torch, whose CUDA 13 libraries
    the package index here does not have (the resolver only reads metadata)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    digest = {path: base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
              for path, text in files.items()}
    record = "".join(f"{path},sha256={digest[path]},{len(text)}\n" for path, text in files.items())
    record += f"{dist}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**files, f"{dist}/RECORD": record}.items():
            archive.writestr(path, text)
    return wheel


def resolve_on_colab(tmp_path, requirements):
    """{name: version} that uv picks for `requirements` on Colab's Python and platform, every package Colab has
    held at Colab's version (constraints), except those colab.UPGRADES names."""
    frozen = pins.read(colab.FREEZE)
    metadata_only_wheel(tmp_path, "torch", frozen["torch"])
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in frozen.items()
                                   if version and name not in colab.UPGRADES))
    done = subprocess.run([sys.executable, "-m", "uv", "pip", "compile", str(requirements), "-c", str(constraints),
                           "--python-version", COLAB_PYTHON, "--python-platform", COLAB_PLATFORM,
                           *wheels_only_but(COLAB_PLATFORM), "--find-links", str(tmp_path), "--no-header",
                           "--no-annotate", "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"colab/requirements.txt does not fit Colab's stack:\n{done.stderr[-3000:]}"
    return pins.from_text(done.stdout)


@pytest.mark.index
def test_the_setup_cell_installs_only_what_colab_lacks_and_keeps_every_loaded_package(tmp_path):
    frozen = pins.read(colab.FREEZE)
    picked = resolve_on_colab(tmp_path, colab.ROOT / "colab" / "requirements.txt")
    changed = {name: (frozen[name], version) for name, version in picked.items()
               if name in frozen and frozen[name] != version}
    assert set(changed) <= set(colab.UPGRADES), changed
    assert not set(changed) & colab.LOADED and not set(colab.UPGRADES) & colab.LOADED
    added = set(picked) - set(frozen)
    assert {"gensim", "bertopic", "gguf"} <= added
    assert picked["torch"] == frozen["torch"]               # Colab's own CUDA torch stays


@pytest.mark.index
def test_the_resolver_check_fails_when_a_requirement_needs_a_newer_colab_package(tmp_path):
    wanting = tmp_path / "wanting.txt"
    wanting.write_text(f"numpy=={pins.read()['numpy']}\n")    # the project's numpy is newer than Colab's
    with pytest.raises(AssertionError, match="does not fit Colab's stack"):
        resolve_on_colab(tmp_path, wanting)


def test_the_colab_requirements_are_generated_from_the_pins():
    assert (colab.ROOT / "colab" / "requirements.txt").read_text() == colab.colab_requirements(), \
        "run `python -m tools.colab`"
    assert (colab.ROOT / "colab" / "requirements-no-deps.txt").read_text() == colab.colab_requirements_no_deps()


def test_what_the_no_deps_packages_need_is_on_colab_or_installed_by_the_setup_cell():
    frozen, installed = pins.read(colab.FREEZE), pins.from_text(colab.colab_requirements())
    for package in colab.WITHOUT_DEPS:
        assert colab.dependencies(package) and colab.dependencies(package) <= set(frozen) | set(installed)
        assert package not in installed and package not in frozen
