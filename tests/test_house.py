"""The shape of the house, read from the source: utils/ is what the notebooks import and never imports tools/; no
import cycles; no module uses another's private names; one ROOT; importing utils.devices loads no chapter's module."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.paths import ROOT

PACKAGES = ("utils", "tools")


def modules():
    """{dotted module name: parsed source} of every module of utils/ and tools/."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


def imports(name, tree):
    """(imported module, names taken from it) for every import in `tree`, at any depth (imports inside functions
    count: they are arrows too), relative imports resolved."""
    package = name if name in PACKAGES else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level else ""
            target = ".".join(filter(None, [base, node.module or ""]))
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:          # `from . import assets`: the module itself
                    yield f"{target}.{alias.name}", ()
                else:
                    yield target, (alias.name,)


MODULES = modules()


def graph():
    """{module: set of project modules it imports}."""
    return {name: {target for target, _ in imports(name, tree) if target in MODULES and target != name}
            for name, tree in MODULES.items()}


def cycles(edges):
    """Every cycle found by a depth-first search, as a list of modules."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"
    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_there_are_no_import_cycles():
    assert cycles(graph()) == []


def test_utils_never_imports_the_tooling():
    wrong = {name: sorted(t for t in targets if t.split(".")[0] == "tools")
             for name, targets in graph().items() if name.startswith("utils")}
    assert not any(wrong.values()), wrong


def test_utils_holds_no_command_line_programs():
    for name, tree in MODULES.items():
        if name.startswith("utils"):
            source = ast.unparse(tree)
            assert "argparse" not in source and "__main__" not in source, f"{name} is a program: it belongs in tools/"


def test_no_module_uses_another_modules_private_names():
    for name, tree in MODULES.items():
        for target, taken in imports(name, tree):
            assert not (target in MODULES and any(n.startswith("_") for n in taken)), (name, target, taken)
        aliases = {a.asname or a.name.split(".")[-1]: f"{n.module}.{a.name}" if isinstance(n, ast.ImportFrom) else
                   a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_"):
                module = aliases.get(node.value.id, "")
                assert not any(module.endswith(m.split(".")[-1]) and m != name for m in MODULES
                               if module.split(".")[-1] == m.split(".")[-1]), (name, node.value.id, node.attr)


@pytest.mark.parametrize("constant", ["ROOT", "CACHE", "COMPUTED"])
def test_each_place_is_defined_once(constant):
    defined = [name for name, tree in MODULES.items() for node in tree.body
               if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == constant for t in node.targets)]
    assert defined == ["utils.paths"]


def test_importing_the_device_helpers_loads_no_chapters_module():
    code = ("import json, sys; import utils.devices; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('utils', 'tools'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["utils", "utils.devices"]


def test_tests_take_nothing_from_the_rehearsal_but_its_own_tests():
    for path in (ROOT / "tests").glob("test_*.py"):
        if path.name not in ("test_rehearse.py", "test_house.py"):
            assert "tools.rehearse" not in path.read_text() and "import rehearse" not in path.read_text(), path


def test_every_module_opens_with_a_one_line_summary():
    for name, tree in MODULES.items():
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[0].endswith((".", ":")), name


def test_the_package_docstring_lists_every_utils_module():
    listed = ast.get_docstring(MODULES["utils"])
    for name in MODULES:
        if name.startswith("utils."):
            assert f"\n    {name.split('.')[1]} " in "\n" + listed, f"{name} is missing from utils/__init__.py"
    assert Path(ROOT / "utils" / "__init__.py").read_text().count("\n") < 40


def test_the_install_exposes_utils_and_not_the_tooling(tmp_path):
    """Run from outside the repository (no PYTHONPATH), the environment imports this clone's utils (the editable
    install) and finds no `tools`: that runs only as `python -m tools.…` from the repository's root."""
    code = ("import importlib.util as u; spec = u.find_spec('utils'); "
            "print(spec.origin if spec else None, u.find_spec('tools'))")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [str(ROOT / "utils" / "__init__.py"), "None"]
