"""Read pin files as {normalized name: version}.

Requirements.txt (direct, exact pins), requirements.lock (everything, `make lock`) and pip freezes such as Colab's,
as {normalized name: version}."""
import re
from pathlib import Path

from utils.paths import ROOT


def normalized(name):
    """A package name as PyPI compares them: lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read(file=ROOT / "requirements.txt"):
    """{normalized name: version} of a file of exact pins such as requirements.txt or a pip freeze."""
    return from_text(Path(file).read_text())


def from_text(text):
    """{normalized name: version} of `name==version` lines (markers dropped); entries installed from a URL
    (`name @ url`) map to None."""
    found = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split(";")[0].split("==")
            found[normalized(name)] = version.strip(" \\")
        elif " @ " in line:
            found[normalized(line.split(" @ ")[0])] = None
    return found


def locked():
    """requirements.lock's entries that apply to this Python and platform, as {normalized name: version}."""
    from packaging.markers import Marker
    entries = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line[:1].isalnum():                     # "name==version ; marker \\" (hash and comment lines are indented)
            requirement, _, marker = line.rstrip(" \\").partition(";")
            if not marker.strip() or Marker(marker).evaluate():
                entries.update(from_text(requirement))
    return entries
