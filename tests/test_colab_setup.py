"""Colab as a reader meets it, checked here: every badge and setup cell follows the one setting (colab/location.toml),
`make colab REPO=... REF=...` in a fresh copy rewrites them and nothing but generated files, and the setup cell's own
code, executed with a stand-in `google.colab` module, stops at the first failing step and runs twice in one runtime.

The setup cell runs real git and real pip. git clones a copy of this repository: an `insteadOf` rule in the
environment sends the cell's GitHub URL there. pip installs the cloned colab/requirements*.txt into this environment
with PIP_NO_INDEX=1: the lock already holds every pin in them, so pip finds nothing new and changes nothing, and with
no index it cannot download anything either (a requirement it lacks fails the step, which is the failing case). The
cell's /content is the one literal moved, into a temporary folder. Needs git and make; no network."""
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
import torch

from tools import colab
from tools.run import chapters

ROOT = colab.ROOT
NOTEBOOKS = chapters()
RUN = subprocess.run              # the real one: the tests' own commands are not the cell's
LINK = re.compile(r"https://colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/([^/\s)]+)/chapters/"
                  r"([^/\s)]+\.ipynb)")
GENERATED = {"README.md", "colab/README.md", "colab/location.toml", *(f"chapters/{p.name}" for p in NOTEBOOKS)}


def git(*args, cwd):
    done = RUN(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def copy_of_this_repository(folder):
    """A fresh git repository (one commit, branch `work`) of this working tree's files: tracked and new, not
    ignored."""
    for name in git("ls-files", "-co", "--exclude-standard", cwd=ROOT).splitlines():
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes((ROOT / name).read_bytes())
    git("init", "--quiet", "--initial-branch", "work", cwd=folder)
    git("add", "--all", cwd=folder)
    git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "-m", "copy", cwd=folder)
    return folder


def setting(root):
    return tomllib.loads((root / "colab" / "location.toml").read_text())


def setup_source(notebook):
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if "setup" in c.metadata.get("tags", [])]
    assert len(cells) == 1, notebook
    return cells[0].source


def run_cell(source, content, monkeypatch, on_colab=True):
    """Execute a setup cell's code in a fresh namespace, on Colab (a stand-in google.colab module) or not, with its
    /content moved to `content`; sys.path is restored afterwards."""
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert source.count('"/content/') == 1, "the cell names /content once"
    exec(compile(source.replace('"/content/', f'"{content}/'), "setup cell", "exec"), {"__name__": "__main__"})


@pytest.fixture
def commands(monkeypatch):
    """Every command the cell runs, in order (each still runs)."""
    ran = []

    def recording(command, *args, **kwargs):
        ran.append([str(part) for part in command])
        return RUN(command, *args, **kwargs)
    monkeypatch.setattr(subprocess, "run", recording)
    return ran


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A copy of this repository with the setting's ref as a tag: what github.com/<repo> holds once published."""
    folder = copy_of_this_repository(tmp_path_factory.mktemp("origin"))
    git("tag", setting(ROOT)["ref"], cwd=folder)
    return folder


def serve_github_from(folder, monkeypatch):
    """Send git's requests for the setting's GitHub URL to `folder`; keep pip off every index."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{Path(folder).as_uri()}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", f"https://github.com/{setting(ROOT)['repo']}.git")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


def with_gpu(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: name is not None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: name)


def pip_files(commands):
    """The requirement files of the cell's pip commands, and whether each went without dependencies."""
    return [(c[c.index("-r") + 1], "--no-deps" in c) for c in commands if c[1:4] == ["-m", "pip", "install"]]


# --- the setup cell, executed -------------------------------------------------------------------------------------

def test_outside_colab_the_setup_cell_does_nothing(tmp_path, monkeypatch, commands, capsys):
    before = list(sys.path)
    run_cell(colab.setup_cell(), tmp_path, monkeypatch, on_colab=False)
    assert commands == [] and sys.path == before and capsys.readouterr().out == ""


def test_a_failing_clone_stops_the_cell_naming_the_step_the_last_line_and_the_fix(tmp_path, monkeypatch, commands):
    serve_github_from(tmp_path / "nothing-here", monkeypatch)
    with_gpu(monkeypatch, None)
    where = setting(ROOT)
    with pytest.raises(RuntimeError) as stopped:
        run_cell(colab.setup_cell(), tmp_path, monkeypatch)
    message = str(stopped.value)
    assert message.startswith(f"Setup could not clone {where['repo']} at {where['ref']} (fatal: ")
    assert f"Fix: check that https://github.com/{where['repo']} is public and has a branch or tag {where['ref']}" \
        in message
    assert [c[:2] for c in commands] == [["git", "clone"]]                  # nothing ran after the failing step
    home = tmp_path / where["repo"].split("/")[1]
    assert not home.exists() and str(home) not in sys.path


def test_the_cell_clones_the_ref_its_badge_opens_installs_and_runs_again(origin, tmp_path, monkeypatch, commands,
                                                                          capsys):
    serve_github_from(origin, monkeypatch)
    where, source = setting(ROOT), setup_source(NOTEBOOKS[0])
    home = tmp_path / where["repo"].split("/")[1]
    with_gpu(monkeypatch, None)
    run_cell(source, tmp_path, monkeypatch)
    first = capsys.readouterr().out
    assert "this runtime has no GPU" in first and "Runtime > Change runtime type > T4 GPU" in first
    assert commands[0] == ["git", "clone", "--quiet", "--depth", "1", "--branch", where["ref"],
                           f"https://github.com/{where['repo']}.git", str(home)]
    assert git("rev-parse", "HEAD", cwd=home) == git("rev-parse", where["ref"], cwd=origin)
    assert pip_files(commands) == [(f"{home}/colab/requirements.txt", False),
                                   (f"{home}/colab/requirements-no-deps.txt", True)]
    assert sys.path[0] == str(home) and "setup: ready in" in first
    found = RUN([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(home)!r}); import utils.paths; "
                 "print(utils.paths.ROOT)"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert found.stdout.strip() == str(home), found.stderr                  # the chapters' `import utils` finds it

    commands.clear()                                                        # Run all again, same runtime, a GPU now
    with_gpu(monkeypatch, "Tesla T4")
    run_cell(source, tmp_path, monkeypatch)
    second = capsys.readouterr().out
    assert "setup: GPU Tesla T4" in second and "is already here" in second
    assert not any(c[0] == "git" for c in commands) and len(pip_files(commands)) == 2
    assert sys.path.count(str(home)) == 1


def test_a_failing_install_stops_the_cell_naming_the_step_the_last_line_and_the_fix(origin, tmp_path, monkeypatch,
                                                                                   commands):
    serve_github_from(origin, monkeypatch)
    with_gpu(monkeypatch, None)
    home = tmp_path / setting(ROOT)["repo"].split("/")[1]
    git("clone", "--quiet", str(origin), str(home), cwd=tmp_path)          # an earlier run cloned it
    with open(home / "colab" / "requirements.txt", "a") as requirements:
        requirements.write("hollm-no-such-package==0\n")                     # what pip cannot find
    with pytest.raises(RuntimeError) as stopped:
        run_cell(colab.setup_cell(), tmp_path, monkeypatch)
    assert str(stopped.value).startswith("Setup could not install colab/requirements.txt (ERROR: No matching "
                                         "distribution found for hollm-no-such-package==0). Fix: run this cell again")
    assert len(commands) == 1 and str(home) not in sys.path


# --- one setting ----------------------------------------------------------------------------------------------------

def disagreements(root, monkeypatch, content):
    """What, at the companion in `root`, disagrees with its setting: a badge or link to another place, a setup cell
    cloning another repository or ref than its badge opens (found by executing it with every command stubbed), a
    missing or stale "not published" note."""
    where, found = setting(root), []
    expected = {(where["repo"], where["ref"], p.name) for p in NOTEBOOKS}
    stub = types.SimpleNamespace(calls=[])
    monkeypatch.setattr(subprocess, "run", lambda command, *a, **k: stub.calls.append(command) or
                        subprocess.CompletedProcess(command, 0, "", ""))
    for path in NOTEBOOKS:
        notebook = root / "chapters" / path.name
        badges = LINK.findall(nbformat.read(notebook, as_version=4).cells[0].source)
        if badges != [(where["repo"], where["ref"], path.name)]:
            found.append(f"{path.name}: badge {badges}")
        stub.calls.clear()
        run_cell(setup_source(notebook), content, monkeypatch)
        clone = next(c for c in stub.calls if c[:2] == ["git", "clone"])
        url, ref = clone[-2], clone[clone.index("--branch") + 1]
        cloned = (url.removeprefix("https://github.com/").removesuffix(".git"), ref)
        if [cloned] != [(repo, ref) for repo, ref, _ in badges]:
            found.append(f"{path.name}: the setup cell clones {cloned}, the badge opens {badges}")
        if pip_files(stub.calls) != [(f"{clone[-1]}/colab/requirements.txt", False),
                                     (f"{clone[-1]}/colab/requirements-no-deps.txt", True)]:
            found.append(f"{path.name}: the setup cell installs {pip_files(stub.calls)}")
    for name in ("README.md", "colab/README.md"):
        text = (root / name).read_text()
        if set(LINK.findall(text)) != expected:
            found.append(f"{name}: links {sorted(set(LINK.findall(text)) ^ expected)}")
        if ("Not published yet" in text) == where["published"]:
            found.append(f"{name}: the 'not published yet' note and published = {where['published']} disagree")
    return found


def test_every_badge_link_and_setup_cell_follows_the_setting(tmp_path, monkeypatch):
    assert disagreements(ROOT, monkeypatch, tmp_path) == []


def doctored(root, case):
    """Break the generated files at `root` in one way."""
    where = setting(root)
    if case == "setup cell":
        path = root / "chapters" / NOTEBOOKS[2].name
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "setup" in c.metadata.get("tags", []))
        cell.source = cell.source.replace(f'"{where["ref"]}", "/content/', '"another-ref", "/content/')
        nbformat.write(nb, path)
    elif case == "badge":
        path = root / "chapters" / NOTEBOOKS[0].name
        path.write_text(path.read_text().replace(f"/blob/{where['ref']}/", "/blob/another-ref/", 1))
    elif case == "README link":
        readme = root / "README.md"
        readme.write_text(readme.read_text().replace(f"github/{where['repo']}/", "github/someone/else/", 1))
    elif case == "published note":
        toml = root / "colab" / "location.toml"
        flags = [f"published = {str(value).lower()}" for value in (where["published"], not where["published"])]
        toml.write_text(toml.read_text().replace(*flags))


@pytest.mark.parametrize("case, complaint", [("setup cell", f"{NOTEBOOKS[2].name}: the setup cell clones"),
                                             ("badge", f"{NOTEBOOKS[0].name}: badge"),
                                             ("README link", "README.md: links"),
                                             ("published note", "colab/README.md: the 'not published yet' note")])
def test_the_check_finds_each_kind_of_disagreement(tmp_path, monkeypatch, case, complaint):
    for name in GENERATED:
        (tmp_path / "copy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "copy" / name).write_bytes((ROOT / name).read_bytes())
    doctored(tmp_path / "copy", case)
    found = disagreements(tmp_path / "copy", monkeypatch, tmp_path)
    assert any(line.startswith(complaint) for line in found), found


def test_make_colab_moves_from_a_fresh_clone_rewriting_only_generated_files_once(tmp_path, monkeypatch):
    clone = copy_of_this_repository(tmp_path / "clone")
    (clone / ".venv").symlink_to(sys.prefix)                                # what `make setup` would have built
    (clone / ".git" / "info" / "exclude").write_text(".venv\n")             # .gitignore's `.venv/` skips no link
    old = setting(clone)
    refused = RUN([sys.executable, "-m", "tools.colab", "--repo", "not a repository"],
                  cwd=clone, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "REPO='not a repository' is not a GitHub repository" in refused.stderr
    assert git("status", "--porcelain", cwd=clone) == ""

    planned = RUN(["make", "--dry-run", "-o", ".venv/.installed", "colab", "REPO=someone/fork", "REF=v0"], cwd=clone,
                  capture_output=True, text=True, timeout=120)
    command, = [line for line in planned.stdout.splitlines() if "-m tools.colab" in line]
    assert command.endswith("-m tools.colab --repo someone/fork --ref v0"), command
    done = RUN(["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert said[0].startswith("github.com/someone/fork at v0, not published yet: rewrote colab/location.toml, ")
    assert said[1].startswith("Next: push this repository to https://github.com/someone/fork") and \
        "make colab PUBLISHED=yes" in said[1]

    changed = set(git("diff", "--name-only", cwd=clone).split())
    assert git("ls-files", "--others", "--exclude-standard", cwd=clone) == ""    # no new file either
    assert changed == GENERATED, changed ^ GENERATED
    assert setting(clone) == {"repo": "someone/fork", "ref": "v0", "published": False}   # nothing was pushed
    assert disagreements(clone, monkeypatch, tmp_path) == []

    diff = git("diff", "--binary", cwd=clone)
    again = RUN(["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "every generated file was up to date; nothing changed" in again.stdout
    assert git("diff", "--binary", cwd=clone) == diff                        # not a byte more, newlines included

    published = RUN([sys.executable, "-m", "tools.colab", "--published", "yes"], cwd=clone, capture_output=True,
                    text=True, timeout=300)
    assert published.returncode == 0, published.stderr
    assert setting(clone) == {"repo": "someone/fork", "ref": "v0", "published": True}
    assert "Next: commit colab/location.toml, README.md, colab/README.md;" in published.stdout
    assert disagreements(clone, monkeypatch, tmp_path) == []
    stale = RUN(["git", "grep", "-l", "-e", f"{old['repo']}/blob", "-e", f"github.com/{old['repo']}"], cwd=clone,
                capture_output=True, text=True, timeout=120).stdout.split()
    assert stale and all(name.startswith("tests/recordings/") for name in stale)   # `make record` re-executes them
    for path in NOTEBOOKS:                                                  # in notebooks: the badge and the setup cell
        before = nbformat.read(ROOT / "chapters" / path.name, as_version=4)
        after = nbformat.read(clone / "chapters" / path.name, as_version=4)
        assert [line for line in before.cells[0].source.splitlines() if colab.BADGE not in line] == \
            [line for line in after.cells[0].source.splitlines() if colab.BADGE not in line]
        for was, now in zip(before.cells[1:], after.cells[1:], strict=True):
            assert was == now or "setup" in was.metadata.get("tags", [])
    outside = re.compile(re.escape(colab.TABLE_START) + ".*?" + re.escape(colab.TABLE_END), re.S)
    assert outside.sub("", (ROOT / "README.md").read_text()) == outside.sub("", (clone / "README.md").read_text())


@pytest.mark.parametrize("repo, ref", [("owner", "v1.0"), ("owner/name.git", "v1.0"), ("an owner/name", "v1.0"),
                                       ("owner/name", "release/1.0"), ("owner/name", "v1..0"),
                                       ("owner/name", "-v1.0"), ("owner/name", "9bb1d76" + "0" * 33)])
def test_the_setting_refuses_what_git_cannot_clone_or_colab_cannot_open(repo, ref):
    with pytest.raises(ValueError, match="REPO=|REF="):
        colab.checked(repo, ref, True)
    assert colab.checked("alice/hands-on-llm", "v1.0", True) == ("alice/hands-on-llm", "v1.0", True)
