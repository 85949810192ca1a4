"""Check a chapter's parameters before anything loads.

The types its `parameters` cell declares (papermill's convention, so `papermill --help-notebook` lists them) and the
ranges the chapter works in.

    check_parameters(globals())                                   # the cell right after the parameters cell
    check_parameters(globals(), ranges={"n_documents": (300, None)})   # a chapter's own limits, inclusive"""
import types
import typing

from . import assets
from .devices import DEVICE, DTYPES


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


def _range_problem(name, value, ranged=False):
    """What is wrong with a value of the right type (empty, an unknown device or offline asset, or, unless the
    chapter declares the parameter's range itself (`ranged`), a number below 1; a seed may be 0)."""
    for item in (value if isinstance(value, list) else [value]):
        if (not ranged and isinstance(item, int) and not isinstance(item, bool)
                and item < (0 if name == "seed" else 1)):
            return f"a {'non-negative' if name == 'seed' else 'positive'} number"
        if isinstance(item, str) and not item.strip():
            return "a non-empty text"
        if isinstance(item, str) and assets.is_offline_name(item) and item not in assets.MADE_HERE:
            try:
                assets.get(item)
            except assets.AssetError as err:
                return str(err)
    if isinstance(value, list) and not value:
        return "a non-empty list"
    if name == "device" and not DEVICE.fullmatch(value):
        return "'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'"
    if name == "dtype" and value is not None and value not in DTYPES:
        return f"None (what suits the device) or one of {', '.join(DTYPES)}"
    return None


def _outside(value, low, high):
    """Why `value` (a number or a list of numbers) lies outside low..high (None: open), or None."""
    for item in (value if isinstance(value, list) else [value]):
        if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        if (low is not None and item < low) or (high is not None and item > high):
            if high is None:
                return f"at least {low}"
            return f"at most {high}" if low is None else f"from {low} to {high}"
    return None


def check_parameters(namespace, ranges=None):
    """Check every annotated parameter in `namespace` (a chapter's globals()) against its declared type and range,
    and the numbers in `ranges` ({name: (low, high)}, inclusive, None for no limit) against the limits the chapter
    works in; raise one ParameterError that lists every problem, before anything is loaded."""
    problems = []
    for name, annotation in namespace.get("__annotations__", {}).items():
        value = namespace.get(name)
        if not _fits(value, annotation):
            problems.append(f"{name} expects {_type_name(annotation)}, got {value!r} ({type(value).__name__})")
        elif (wanted := _range_problem(name, value, name in (ranges or {}))) is not None:
            problems.append(f"{name}={value!r}: expects {wanted}")
        elif name in (ranges or {}) and (wanted := _outside(value, *ranges[name])) is not None:
            problems.append(f"{name}={value!r}: this chapter works with {wanted}")
    unknown = set(ranges or {}) - set(namespace.get("__annotations__", {}))
    if unknown:
        raise ValueError(f"ranges name parameters the chapter does not declare: {sorted(unknown)}")
    if problems:
        raise ParameterError("Parameter problem(s), nothing has been loaded yet:\n  " + "\n  ".join(problems) +
                             "\nFix the parameters cell (or the -p/-f values given to the runner or papermill).")
