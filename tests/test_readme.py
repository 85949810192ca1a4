"""The README as a reader meets it: its first screen names the three ways in, each with its command, before the
chapter table; every `make` target it names exists; the maintainers' document it links is there; and the facts that
drift are checked against their source (the Colab setup cell's packages against colab/requirements*.txt)."""
import re

from tools import colab
from tools.pins import normalized

ROOT = colab.ROOT
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAINTAINERS = (ROOT / "docs" / "maintainers.md").read_text(encoding="utf-8")


def first_screen():
    """What comes before the chapter table."""
    return README.split(colab.TABLE_START)[0]


def test_the_first_screen_says_what_this_is_and_the_three_ways_in_with_their_commands():
    screen = first_screen()
    assert len(screen.splitlines()) <= 40, "the chapter table should follow within a screen"
    assert "Hands-On Large Language Models" in screen.splitlines()[0]
    ways = re.findall(r"^\d\. \*\*(.+?)\*\*", screen, re.M)
    assert len(ways) == 3 and "Colab" in ways[0] and "JupyterLab" in ways[1], ways
    for command in ("make lab-offline", "make lab ", "make run", "build/index.html", "make doctor"):
        assert command in screen, command


def test_the_commands_ci_relies_on_are_stated():
    assert re.search(r"^make run\s+# the main job", README, re.M)
    assert re.search(r"^make test\s+#", README, re.M)


def test_every_make_target_the_documents_name_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README + MAINTAINERS))
    assert named and named <= targets, named - targets


def test_the_maintainers_document_is_linked_and_holds_what_left_the_readme():
    assert "](docs/maintainers.md)" in README
    for section in ("## CI", "## Colab", "## Rehearsing the book profile", "## Numbers that replay", "## Layout"):
        assert section in MAINTAINERS and section not in README, section


def test_the_packages_the_setup_cell_installs_are_the_ones_its_files_list():
    listed, = re.findall(r"<!-- colab-packages:start -->(.*?)<!-- colab-packages:end -->", MAINTAINERS, re.S)
    named = {normalized(name) for name in re.findall(r"`([A-Za-z0-9_.-]+)`", listed)}
    files = [ROOT / "colab" / "requirements.txt", ROOT / "colab" / "requirements-no-deps.txt"]
    pinned = {normalized(line.split("==")[0]) for file in files for line in file.read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert named == pinned, f"docs/maintainers.md: {sorted(named - pinned)} too many, {sorted(pinned - named)} missing"


def test_no_count_of_packages_or_tests_is_written_from_memory():
    for text in (README, MAINTAINERS):
        assert not re.search(r"\b\d+ (?:packages|tests|passed|entries)\b", text)
