"""Compute a chapter's expensive results once: embeddings, scores and generated answers, kept on disk.

    train_embeddings = cached(embedder, train["text"], lambda texts: embedder.encode(texts))

The first call runs the given function and stores its array (one row per input); later calls (a restarted kernel,
the second run of a chapter) load it. The key is a sha256 of what decides the result: the model's parameters
(names, shapes and a sample of each), its tokenizer's vocabulary, its maximum sequence length, device and dtype; the
versions of the libraries that compute it (torch, transformers, tokenizers, sentence-transformers), so that another
environment, such as Colab's versions, computes its own; what is computed (`what`); the code that computes it
(`code_key`: the compute function's byte code and, recursively, every function or module it names that is not an
installed library's, so that editing a chapter's lambda or a helper in utils/ computes afresh instead of loading the
old result); and the inputs. Each file is
written atomically beside a small JSON record of its shape, sha256 and the seconds it took; a file that is cut short,
damaged or does not match its record is reported and computed afresh. What it says starts with "[cache]" (see
`utils.notebook.progress`).

`cached_json` keeps one small JSON value per key instead (a paid API's reply), each in its own file as soon as it
is computed, so that a loop that is interrupted keeps what it paid for."""
import functools
import hashlib
import importlib.metadata as md
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from .paths import COMPUTED

FOLDER = COMPUTED / "results"
LIBRARIES = ("torch", "transformers", "tokenizers", "sentence-transformers")


def library_versions(libraries=LIBRARIES):
    """{library: installed version} of the libraries that compute a result ("absent" where one is missing)."""
    found = {}
    for library in libraries:
        try:
            found[library] = md.version(library)
        except md.PackageNotFoundError:
            found[library] = "absent"
    return found


def fingerprint(model, tokenizer=None):
    """A sha256 of what decides a model's output: every parameter tensor's name and shape with an even sample of
    4,096 of its values (another checkpoint of the same architecture changes them), the tokenizer's vocabulary
    (`tokenizer`, else a SentenceTransformer's own), the maximum sequence length, device and dtype, and the versions
    of the libraries that run it."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 4096)].float().cpu().numpy()
        h.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode() + sample.tobytes())
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    vocab = sorted(tokenizer.get_vocab().items()) if tokenizer is not None else []
    first = next(model.parameters())
    h.update(json.dumps([vocab, getattr(model, "max_seq_length", None), str(first.device), str(first.dtype),
                         library_versions()]).encode())
    return h.hexdigest()


# installed code: the standard library and site-packages, whose changes the library versions in the key stand for
INSTALLED = tuple({Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})


@functools.lru_cache(maxsize=None)
def _installed(file):
    """Whether code from `file` is installed code; "<stdin>", "<string>" and kernels' cells are a session's own."""
    if not file or file.startswith("<frozen"):
        return True
    return not file.startswith("<") and any(Path(file).resolve().is_relative_to(p) for p in INSTALLED)


def _const(value, h, seen):
    """A code object's constant: nested code (a lambda, a comprehension) by its own code, frozensets in a stable
    order (their iteration order follows string hashing), anything else by its repr."""
    if isinstance(value, types.CodeType):
        _code(value, h, seen)
    elif isinstance(value, (tuple, frozenset)):
        h.update(b"(")
        for item in (sorted(value, key=repr) if isinstance(value, frozenset) else value):
            _const(item, h, seen)
        h.update(b")")
    else:
        h.update(repr(value).encode())


def _code(code, h, seen):
    """What a code object runs: its byte code, constants and names; not its file or line numbers (a comment above it
    or another kernel session changes those, not the result)."""
    h.update(code.co_code + repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for value in code.co_consts:
        _const(value, h, seen)


def _names(code):
    """Every global or attribute name a code object uses, its nested code objects' included."""
    names = set(code.co_names)
    for value in code.co_consts:
        if isinstance(value, types.CodeType):
            names |= _names(value)
    return names


def _hash_callable(obj, h, seen):
    """Add `obj` (a function, method, partial, class, module or called object that is not installed code) and what
    it names."""
    while isinstance(obj, (functools.partial, types.MethodType)):
        obj = obj.func if isinstance(obj, functools.partial) else obj.__func__
    if id(obj) in seen:
        return
    seen[id(obj)] = obj                                        # held, so that no other object gets its id meanwhile
    if isinstance(obj, types.ModuleType):                      # a helper module: all of it
        if not _installed(getattr(obj, "__file__", None)):
            h.update(Path(obj.__file__).read_bytes())
    elif isinstance(obj, type):
        _hash_class(obj, h, seen)
    elif isinstance(obj, types.FunctionType):
        if not _installed(obj.__code__.co_filename):
            _hash_function(obj, h, seen)
    elif not isinstance(obj, types.BuiltinFunctionType):       # an object that is called: its class's code
        _hash_callable(type(obj), h, seen)


def _hash_class(cls, h, seen):
    """A class's own methods and properties, each counted where its code is not installed code (so a class of the
    companion's or of a chapter's cells counts, a library's does not)."""
    for member in vars(cls).values():
        if isinstance(member, (types.FunctionType, staticmethod, classmethod, property)):
            _hash_callable(getattr(member, "__func__", getattr(member, "fget", member)), h, seen)


def _hash_function(function, h, seen):
    """A function's own code, then every function, class or module it names through its globals or closure."""
    _code(function.__code__, h, seen)
    names = sorted(_names(function.__code__))
    cells = [cell.cell_contents for cell in function.__closure__ or () if cell != types.CellType()]   # not unbound
    for value in [function.__globals__[n] for n in names if n in function.__globals__] + cells:
        if isinstance(value, types.ModuleType) and not _installed(getattr(value, "__file__", None)):
            for name in names:                                 # `batching.encode_batched`: the attributes it uses
                # (a library's attributes are library code; reading them all can warn, e.g. numpy's `np.str`)
                if callable(getattr(value, name, None)):
                    _hash_callable(getattr(value, name), h, seen)
        if callable(value) or isinstance(value, types.ModuleType):
            _hash_callable(value, h, seen)


def code_key(compute):
    """A sha256 of the code behind `compute`: its byte code, and recursively every function, class or module it
    names (globals, closure, `module.attribute`) that is not installed code (the standard library, site-packages:
    their versions are in the fingerprint), so a chapter's own functions and utils/ count. A function's comments and
    line numbers do not count; a changed body, constant or helper does, and a module named as such (`batching.`)
    counts with all of its file. An object that is called (an embedder's `.encode`) is
    library code: its weights are in the fingerprint."""
    h = hashlib.sha256()
    _hash_callable(compute, h, {})
    return h.hexdigest()


def texts_key(texts):
    """A sha256 of the texts in their order."""
    h = hashlib.sha256()
    for text in texts:
        h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()


def _load(array_file, record_file):
    """(the cached array, its record), or (None, the reason it cannot be used)."""
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
    return array, record


def cached(model, texts, compute, tokenizer=None, what="embeddings", folder=None, verbose=True):
    """`compute(texts)` (an array, one row per text), stored under `folder` (default: .cache/results/) the first
    time and loaded from there afterwards; says which it did and, when loaded, what computing it cost. `what` names
    what `compute` computes (it is part of the key, so other results of the same model and texts, such as a
    language model's label scores, get their own files); `tokenizer` is the model's when the model does not carry
    one; `verbose=False` says nothing."""
    texts = list(texts)
    folder = Path(folder or FOLDER)
    key, array_file, record_file = _files(model, texts, compute, tokenizer, what, folder)
    array, found = _load(array_file, record_file)      # found: the file's record, or why it cannot be used
    if array is not None:
        if verbose:
            cost = f"; computing them took {found['seconds']:.1f} s" if "seconds" in found else ""
            print(f"[cache] {len(texts):,} rows of {what} loaded from .cache/results/{key[:12]}…, not computed{cost}")
        return array
    if found and verbose:
        print(f"[cache] The cached {what} .cache/results/{key[:12]}… are {found}: computing them again.")
    start = time.perf_counter()
    array = np.asarray(compute(texts))
    seconds = time.perf_counter() - start
    if verbose:
        print(f"[cache] {what} of {len(texts):,} texts computed in {seconds:.1f} s and cached "
              f"(.cache/results/{key[:12]}…)")
    if array.shape[0] != len(texts):
        raise ValueError(f"compute returned {array.shape[0]} rows for {len(texts)} texts")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npy", delete=False) as scratch:
        np.save(scratch, array, allow_pickle=False)
    record_file.write_text(json.dumps({"shape": list(array.shape), "dtype": str(array.dtype), "seconds": seconds,
                                       "sha256": hashlib.sha256(array.tobytes()).hexdigest()}))
    os.replace(scratch.name, array_file)          # the array appears whole or not at all
    return array


def lookup(model, texts, compute, tokenizer=None, what="embeddings", folder=None):
    """What `cached` would load for these arguments, or None where nothing usable is stored; computes nothing."""
    _, array_file, record_file = _files(model, list(texts), compute, tokenizer, what, Path(folder or FOLDER))
    return _load(array_file, record_file)[0]


def _files(model, texts, compute, tokenizer, what, folder):
    """The key of a cached result and its two files (the array, its record)."""
    key = hashlib.sha256((fingerprint(model, tokenizer) + what + code_key(compute) + texts_key(texts)).encode()
                         ).hexdigest()[:32]
    return key, folder / f"{key}.npy", folder / f"{key}.json"


def json_file(key_parts, what, folder=None):
    """Where `cached_json` keeps the value for `key_parts` (anything JSON can write) under `folder`/`what`/."""
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:32]
    return Path(folder or FOLDER) / what / f"{key}.json"


def stored(key_parts, what, folder=None):
    """The record {"value", "seconds"} that `cached_json` keeps for `key_parts`, or None: never stored, or
    unreadable (then it is computed again)."""
    try:
        record = json.loads(json_file(key_parts, what, folder).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"value", "seconds"} <= set(record) else None


def cached_json(key_parts, compute, what, folder=None):
    """`compute()` (a JSON value) the first time, stored at once in its own file (written atomically), and loaded
    afterwards: the record {"value", "seconds": what computing it took, "loaded": whether it came from the cache}.
    A `compute` that raises stores nothing."""
    record = stored(key_parts, what, folder)
    if record is not None:
        return {**record, "loaded": True}
    start = time.perf_counter()
    record = {"value": compute(), "seconds": time.perf_counter() - start}
    target = json_file(key_parts, what, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".json", delete=False) as scratch:
        json.dump(record, scratch)
    os.replace(scratch.name, target)
    return {**record, "loaded": False}
