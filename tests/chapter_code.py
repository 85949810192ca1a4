"""A chapter's own code in a test: the source of one of its cells, a function it defines, a literal it assigns.
Tests run these, not copies, so that a change in the notebook is what gets tested."""
import ast

import nbformat

from utils.paths import CHAPTERS


def code_cells(chapter):
    """The code cells' sources of chapters/<chapter>*.ipynb (e.g. chapter="ch04")."""
    [path] = CHAPTERS.glob(f"{chapter}*.ipynb")
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def cell(chapter, containing):
    """The source of the one code cell of `chapter` that contains `containing`."""
    [source] = [s for s in code_cells(chapter) if containing in s]
    return source


def _definition(chapter, name):
    for source in (s for s in code_cells(chapter) if f"def {name}(" in s):
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return ast.get_source_segment(source, node)
    raise LookupError(f"{chapter} defines no function {name!r}")


def function(chapter, name, namespace=None):
    """The function `name` as the chapter defines it, defined in `namespace` (what it uses of the chapter's
    variables, imports and other functions; pass the same dict to define several that call each other)."""
    namespace = {} if namespace is None else namespace
    exec(_definition(chapter, name), namespace)
    return namespace[name]


def value(chapter, name):
    """The literal that the chapter assigns to `name` (a prompt, a list of labels, ...)."""
    for source in (s for s in code_cells(chapter) if f"{name} = " in s):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                return ast.literal_eval(node.value)
    raise LookupError(f"{chapter} assigns no literal to {name!r}")
