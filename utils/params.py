"""A chapter's parameters: declared with types in its `parameters` cell (papermill's convention, so
`papermill --help-notebook` lists them), read back here, and checked before anything loads.

    check_parameters(globals())     # the cell right after the parameters cell of every chapter
    declared(notebook_path)         # name -> (type, default, help), for the runner"""
import difflib
import re
import types
import typing

from . import assets, classify, data

DEVICE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")


class ParameterError(ValueError):
    """A parameter has a value its chapter cannot use; the message names it, what it expects and what it got."""


def _type_name(annotation):
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    return str(annotation) if typing.get_origin(annotation) else annotation.__name__


def _fits(value, annotation):
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))


def _range_problem(name, value):
    """What is wrong with a value of the right type (empty, not positive, an unknown device or offline asset)."""
    for item in (value if isinstance(value, list) else [value]):
        if isinstance(item, int) and not isinstance(item, bool) and item < (0 if name == "seed" else 1):
            return f"a {'non-negative' if name == 'seed' else 'positive'} number"
        if isinstance(item, str) and not item.strip():
            return "a non-empty text"
        if isinstance(item, str) and assets.is_offline_name(item) and item not in data.GENERATED | classify.GENERATED:
            try:
                assets.get(item)
            except assets.AssetError as err:
                return str(err)
    if isinstance(value, list) and not value:
        return "a non-empty list"
    if name == "device" and not DEVICE.fullmatch(value):
        return "'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'"
    return None


def check_parameters(namespace):
    """Check every annotated parameter in `namespace` (a chapter's globals()) against its declared type and range;
    raise one ParameterError that lists every problem. Returns the names checked."""
    problems = []
    for name, annotation in namespace.get("__annotations__", {}).items():
        value = namespace.get(name)
        if not _fits(value, annotation):
            problems.append(f"{name} expects {_type_name(annotation)}, got {value!r} ({type(value).__name__})")
        elif (wanted := _range_problem(name, value)) is not None:
            problems.append(f"{name}={value!r}: expects {wanted}")
    if problems:
        raise ParameterError("Parameter problem(s), nothing has been loaded yet:\n  " + "\n  ".join(problems) +
                             "\nFix the parameters cell (or the -p/-f values given to the runner or papermill).")
    return list(namespace.get("__annotations__", {}))


def declared(notebook):
    """name -> {"type", "default", "help"} from the notebook's parameters cell, as papermill infers them."""
    import papermill
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in papermill.inspect_notebook(str(notebook)).items()}


def parse_value(text, type_name):
    """A -p value as papermill's -y reads it (YAML: numbers, lists, null, booleans); a parameter declared as
    text keeps the text as given."""
    import yaml
    if text in ("null", "None", "~"):
        return None
    return text if type_name in ("str", "Optional[str]") else yaml.safe_load(text)


def unknown_names(names, notebook, known):
    """A message refusing names the chapter does not declare, with the closest match, or None."""
    wrong = [n for n in names if n not in known]
    if not wrong:
        return None
    hints = [f"{n!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(n, known, 1)) else "")
             for n in wrong]
    return (f"{notebook.stem} has no parameter {', '.join(hints)}. Its parameters: {', '.join(known)} "
            f"(python -m utils.run {notebook.stem[:4]} --parameters).")
