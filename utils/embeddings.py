"""Encode texts once: embeddings cached on disk, keyed by the model's weights and tokenizer and by the texts.

    train_embeddings = cached_encode(model, texts, lambda texts: model.encode(texts, show_progress_bar=True))

The first call runs the given encode function and stores the array; later calls (a restarted kernel, the second run
of a chapter) load it. The key is a sha256 of the model's parameters (names, shapes and a sample of each), its
tokenizer's vocabulary, its maximum sequence length, device and dtype, and of the texts, so a different model
behind the same id (or the same model on another device) never gets another's embeddings. Each file is written
atomically beside a small JSON record of its shape and sha256; a file that is cut short, damaged or does not match
its record is reported and encoded afresh. What it says starts with "[cache]" (see `utils.run.progress`)."""
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import assets

FOLDER = assets.COMPUTED / "embeddings"


def fingerprint(model, tokenizer=None):
    """A sha256 of what decides a model's output: every parameter tensor's name and shape with an even sample of
    4,096 of its values (another checkpoint of the same architecture changes them), the tokenizer's vocabulary
    (`tokenizer`, else a SentenceTransformer's own), the maximum sequence length, device and dtype."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 4096)].float().cpu().numpy()
        h.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode() + sample.tobytes())
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    vocab = sorted(tokenizer.get_vocab().items()) if tokenizer is not None else []
    first = next(model.parameters())
    h.update(json.dumps([vocab, getattr(model, "max_seq_length", None), str(first.device), str(first.dtype)])
             .encode())
    return h.hexdigest()


def texts_key(texts):
    """A sha256 of the texts in their order."""
    h = hashlib.sha256()
    for text in texts:
        h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()


def _load(array_file, record_file):
    """The cached array, or None with the reason it cannot be used."""
    if not array_file.exists():
        return None, None
    try:
        record = json.loads(record_file.read_text())
        array = np.load(array_file, allow_pickle=False)
        matches = (list(array.shape) == record["shape"] and
                   hashlib.sha256(array.tobytes()).hexdigest() == record["sha256"])
    except (OSError, ValueError, EOFError, KeyError, TypeError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    if not matches:
        return None, "it does not match its record (damaged or partly written)"
    return array, None


def cached_encode(model, texts, encode, tokenizer=None, what="embeddings", folder=None, verbose=True):
    """`encode(texts)` (an array, one row per text), stored under `folder` (default: .cache/embeddings/) the first
    time and loaded from there afterwards; says which it did. `what` names what `encode` computes (it is part of
    the key, so other arrays of the same model and texts, such as a language model's label scores, get their own
    files); `tokenizer` is the model's when the model does not carry one; `verbose=False` says nothing."""
    texts = list(texts)
    folder = Path(folder or FOLDER)
    key = hashlib.sha256((fingerprint(model, tokenizer) + what + texts_key(texts)).encode()).hexdigest()[:32]
    array_file, record_file = folder / f"{key}.npy", folder / f"{key}.json"
    array, problem = _load(array_file, record_file)
    if array is not None:
        if verbose:
            print(f"[cache] {len(texts):,} rows of {what} loaded from .cache/embeddings/{key[:12]}…, not computed")
        return array
    if problem and verbose:
        print(f"[cache] The cached {what} .cache/embeddings/{key[:12]}… are {problem}: computing them again.")
    start = time.perf_counter()
    array = np.asarray(encode(texts))
    if verbose:
        print(f"[cache] {what} of {len(texts):,} texts computed in {time.perf_counter() - start:.1f} s and cached "
              f"(.cache/embeddings/{key[:12]}…)")
    if array.shape[0] != len(texts):
        raise ValueError(f"encode returned {array.shape[0]} rows for {len(texts)} texts")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npy", delete=False) as scratch:
        np.save(scratch, array, allow_pickle=False)
    record_file.write_text(json.dumps({"shape": list(array.shape), "dtype": str(array.dtype),
                                       "sha256": hashlib.sha256(array.tobytes()).hexdigest()}))
    os.replace(scratch.name, array_file)          # the array appears whole or not at all
    return array
