"""Resolve a model parameter (a Hub id or "offline:NAME") to what the library's own loading call needs.

The notebooks call `from_pretrained`, `SentenceTransformer`, ... themselves; these helpers only say where from.
With HF_HUB_OFFLINE=1 a Hub id that is not in the local cache fails at once with a message naming the fix,
instead of the library's retries."""
import os
from pathlib import Path

from . import assets
from .paths import CACHE


class HubUnavailable(RuntimeError):
    """A Hub id was asked for while the Hub is switched off (HF_HUB_OFFLINE=1) and it is not cached."""


def switched_on(var):
    """Whether an environment switch such as HF_HUB_OFFLINE is set to a true value ("1", "true", "yes", "on")."""
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def require_hub(repo_id, repo_type="model"):
    """Fail fast when `repo_id` needs the Hub but HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE) is set and the
    repository is not in the local Hugging Face cache (for a dataset: the Hub cache or datasets' own cache of
    prepared datasets). Local paths pass."""
    if Path(repo_id).exists():
        return repo_id
    var = "HF_DATASETS_OFFLINE" if repo_type == "dataset" else "HF_HUB_OFFLINE"
    if not (switched_on("HF_HUB_OFFLINE") or switched_on(var)):
        return repo_id
    from huggingface_hub.constants import HF_HUB_CACHE
    from huggingface_hub.file_download import repo_folder_name
    cached = [Path(HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type=repo_type)]
    if repo_type == "dataset":
        from datasets import config
        cached.append(Path(config.HF_DATASETS_CACHE) / repo_id.replace("/", "___"))
    if any(folder.is_dir() for folder in cached):
        return repo_id
    names = ", ".join(assets.PREFIX + k for k in assets.CATALOGUE)
    raise HubUnavailable(
        f"{repo_id!r} is a Hugging Face Hub {repo_type} id, but {var}=1 and it is not in the local cache. "
        f"Run the offline profile (python -m tools.run --profile offline, "
        f"or papermill -f chapters/profiles/offline/<chapter>.yaml), "
        f"or pass an offline asset: {names}. With a network, unset {var} to download it.")


def from_pretrained_args(model_id):
    """Keyword arguments for `Auto*.from_pretrained(**args)`: a Hub id passes through unchanged; an offline
    GGUF asset becomes its folder plus `gguf_file`; an offline model folder becomes that folder."""
    if not assets.is_offline_name(model_id):
        return {"pretrained_model_name_or_path": require_hub(model_id)}
    _, asset = assets.get(model_id)
    if asset.format in CONVERTED:
        folder = converted_folder(model_id)
        if not folder.is_dir():
            raise assets.AssetError(f"{model_id!r} is converted once when the offline assets are installed, and "
                                    f"{folder} is missing. Convert it: {assets.INSTALL_HINT}")
        return {"pretrained_model_name_or_path": str(folder)}
    if asset.format == "folder":
        return {"pretrained_model_name_or_path": str(assets.folder(model_id))}
    raise assets.AssetError(f"{model_id!r} is a {asset.format} asset and cannot be loaded with from_pretrained.")


def model_path(model_id):
    """A Hub id or a local folder, for loaders that take one string (e.g. `SentenceTransformer(path)`)."""
    return from_pretrained_args(model_id)["pretrained_model_name_or_path"]


CONVERTED = ("gguf-model", "gguf-vocab", "tiktoken")   # asset formats that are converted once, then loaded
RECIPE = 3     # the companion's own conversion steps (raise it when tools/convert.py writes something different)


def converted_folder(model_id):
    """Where tools/convert.py keeps an asset's converted folder; not created. The name carries everything that shapes
    the conversion: the source file's sha256, the versions of the converting libraries and `RECIPE`, so an upgrade
    of transformers, gguf or tiktoken, or of the companion's steps, converts afresh instead of reusing a stale
    folder."""
    import importlib.metadata as md
    key, asset = assets.get(model_id)
    tools = ("transformers", "tiktoken") if asset.format == "tiktoken" else ("transformers", "gguf")
    versions = "-".join(f"{tool}{md.version(tool)}" for tool in tools)
    return CACHE / "converted" / f"{key}-{next(iter(asset.files.values()))[:12]}-{versions}-r{RECIPE}"


def load_tokenizer(name):
    """A transformers tokenizer for a Hub id or an offline tokenizer asset (GGUF vocab, WordPiece folder, or
    tiktoken's cl100k_base converted to a fast tokenizer with its special-token ids fixed)."""
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(**from_pretrained_args(name))


def load_word_vectors(name):
    """Static word vectors as gensim KeyedVectors: a gensim-data name (e.g. "glove-wiki-gigaword-50", downloaded
    once) or an offline asset (e.g. "offline:glove-6b-50d", the same GloVe 6B vectors). Like a Hub id, a gensim-data
    name not downloaded yet fails at once while HF_HUB_OFFLINE=1."""
    from gensim.models import KeyedVectors
    if assets.is_offline_name(name):
        import numpy as np
        import pandas as pd
        words = pd.read_parquet(assets.path(name, "glove_6B_index.parquet"))["index"].tolist()
        vectors = KeyedVectors(vector_size=50)
        vectors.add_vectors(words, np.load(assets.path(name, "glove_6B_50d_emb.npy")))
        return vectors
    import gensim.downloader
    hint = "Without a network use the offline asset 'offline:glove-6b-50d' (the same GloVe 6B vectors)."
    if switched_on("HF_HUB_OFFLINE") and not (Path(gensim.downloader.BASE_DIR) / name).is_dir():
        raise HubUnavailable(f"{name!r} is a gensim-data name, but HF_HUB_OFFLINE=1 and it is not in "
                             f"{gensim.downloader.BASE_DIR} (GENSIM_DATA_DIR). {hint}")
    try:
        return gensim.downloader.load(name)
    except OSError as err:   # urllib.error.URLError and ConnectionError are OSErrors: gensim-data unreachable
        raise HubUnavailable(f"gensim-data could not provide {name!r} ({err}). {hint}") from err
