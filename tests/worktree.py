"""The work tree as a test run found it: every file's size and modification time, build/ included, so that the suite
can prove it left a reader's run and the clone alone. The caches, the environments and Python's and pytest's own
byte-code and cache folders are state the tools keep by design, not the work tree."""
from pathlib import Path

# folder names skipped wherever they occur: environments, caches (.cache/ holds computed results and stamps by design)
SKIPPED = {".git", ".venv", ".venv-lint", ".venv-colab", ".cache", "__pycache__", ".pytest_cache", ".ruff_cache",
           ".ipynb_checkpoints"}


def snapshot(root):
    """{relative path: (size, mtime in ns)} of every file under `root` outside the SKIPPED folders."""
    root = Path(root)
    found, folders = {}, [root]
    while folders:
        for entry in folders.pop().iterdir():
            if entry.is_dir() and not entry.is_symlink():
                if entry.name not in SKIPPED:
                    folders.append(entry)
            else:
                stat = entry.lstat()
                found[entry.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def changes(before, after):
    """Lines naming each file added, removed or rewritten between two snapshots (empty: the same tree)."""
    return ([f"added {p}" for p in sorted(after.keys() - before.keys())] +
            [f"removed {p}" for p in sorted(before.keys() - after.keys())] +
            [f"rewritten {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]])
