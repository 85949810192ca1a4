"""Read pin files as {normalized name: version}: the one parser of pin files.

Requirements.txt (direct, exact pins), requirements.lock (everything, hashed, `make lock`) and pip freezes such as
Colab's; and what an installed package requires that is not installed (`python -m tools.pins unmet torch`)."""
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


def lock_entries(file=ROOT / "requirements.lock"):
    """Every entry of a hashed lock as (normalized name, version, marker or "", [sha256, ...]), for all platforms."""
    entries = []
    for line in Path(file).read_text().splitlines():
        if line[:1].isalnum():                     # "name==version ; marker \\" (hash and comment lines are indented)
            requirement, _, marker = line.rstrip(" \\").partition(";")
            (name, version), = from_text(requirement).items()
            entries.append((name, version, marker.strip(), []))
        elif line.strip().startswith("--hash=sha256:") and entries:
            entries[-1][3].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return entries


def locked():
    """requirements.lock's entries that apply to this Python and platform, as {normalized name: version}."""
    from packaging.markers import Marker
    return {name: version for name, version, marker, _ in lock_entries()
            if not marker or Marker(marker).evaluate()}


def unmet(package):
    """The requirements of installed `package` (for this Python and platform, extras left out) that no installed
    distribution meets, as requirement strings: what a --no-deps install of it left out."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    missing = []
    for line in md.requires(package) or []:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        try:
            installed = md.version(requirement.name)
        except md.PackageNotFoundError:
            installed = None
        if installed is None or not requirement.specifier.contains(installed, prereleases=True):
            missing.append(str(requirement))
    return missing


if __name__ == "__main__":                         # make setup: what torch, installed --no-deps, still needs
    import sys
    if sys.argv[1:2] != ["unmet"] or len(sys.argv) != 3:
        sys.exit("usage: python -m tools.pins unmet PACKAGE")
    for requirement in unmet(sys.argv[2]):
        print(requirement)
