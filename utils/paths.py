"""Where the companion keeps things: its root folder, the offline cache, computed results and downloads."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]                       # the clone (or /content/<repo> on Colab)
CACHE = Path(os.environ.get("HOLLM_CACHE", ROOT / ".cache"))     # offline asset files, conversions
COMPUTED = Path(os.environ.get("HOLLM_COMPUTED", CACHE))         # what chapters compute once (results, stand-ins)
DOWNLOADS = Path(os.environ.get("HOLLM_DOWNLOADS", CACHE / "downloads"))   # data fetched once, then reused
CHAPTERS = ROOT / "chapters"


def shown(path):
    """A path for printing: relative to the companion's root where it lies inside it, else its name, so that
    outputs carry no machine paths."""
    path = Path(path)
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
