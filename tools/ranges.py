"""The ranges a chapter's key results must fall in, per profile: chapters/ranges/<profile>/<chapter>.yaml.

A run that reaches the end of a chapter proves only that it ran; these files say what it must have found. The runner
(`make run`, `make colab-stack`, `make record`) and the rehearsal (`make rehearse`, profile "rehearsal") check every
chapter's recorded results (`utils.notebook.record`) against its file, and a value outside its range fails the
chapter with the value and the range. A file mirrors the results' nesting; at each leaf:

    {min: 0.68, max: 0.80}      a number in the range, ends included
    {one_of: [a, b]}            one of these values
    {each: [spec, spec, ...]}   a list, element by element (as many elements as specs)
    any other value             exactly this value (a word, a list of ids, true)

A result the file names that the chapter did not record fails too; results the file does not name are not checked."""
from pathlib import Path

import yaml

from utils.paths import CHAPTERS, shown

RANGES = CHAPTERS / "ranges"


def _path(keys):
    return " / ".join(map(str, keys)) or "(results)"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def problems(results, spec, keys=()):
    """Each way `results` falls outside `spec`, one line each: where, the value and what was wanted."""
    if isinstance(spec, dict) and spec and set(spec) <= {"min", "max"}:
        low, high = spec.get("min", float("-inf")), spec.get("max", float("inf"))
        if not _is_number(results) or not low <= results <= high:
            return [f"{_path(keys)} = {results!r}, outside [{low}, {high}]"]
        return []
    if isinstance(spec, dict) and set(spec) == {"one_of"}:
        return [] if results in spec["one_of"] else [f"{_path(keys)} = {results!r}, not one of {spec['one_of']}"]
    if isinstance(spec, dict) and set(spec) == {"each"}:
        if not isinstance(results, list) or len(results) != len(spec["each"]):
            return [f"{_path(keys)} = {results!r}, not a list of {len(spec['each'])}"]
        return [line for i, (value, part) in enumerate(zip(results, spec["each"], strict=True))
                for line in problems(value, part, keys + (i,))]
    if isinstance(spec, dict):
        if not isinstance(results, dict):
            return [f"{_path(keys)} = {results!r}, not a mapping"]
        found = []
        for key, part in spec.items():
            if key not in results:
                found.append(f"{_path(keys + (key,))} was not recorded")
            else:
                found += problems(results[key], part, keys + (key,))
        return found
    return [] if results == spec else [f"{_path(keys)} = {results!r}, not {spec!r}"]


def file_for(profile, chapter, root=None):
    return Path(root or RANGES) / profile / f"{chapter}.yaml"


def check(row, profile, root=None):
    """Mark a chapter's report row FAILED, saying why, when it ran but a result is outside its profile's ranges; a
    row that failed already, or a chapter without a ranges file for this profile, is left as it is. Returns the
    problems (empty: in range or nothing to check)."""
    file = file_for(profile, row["chapter"], root)
    if row["status"] != "ok" or not file.exists():
        return []
    found = problems(row.get("results", {}), yaml.safe_load(file.read_text()) or {})
    if found:
        row["status"] = "FAILED"
        row["failed"] = f"results outside the ranges of {shown(file)}: " + "; ".join(found)
    return found
