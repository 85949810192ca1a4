"""Look at tokenizers side by side.

Every token on a coloured background (HTML), a comparison table, and loading a list of them where a gated Hub
repository is skipped with a message instead of stopping the notebook."""
import html
from collections import Counter

from .models import load_tokenizer

# The six background colours (RGB) the book's show_tokens cycles through.
COLOURS = ("102;194;165", "252;141;98", "141;160;203", "231;138;195", "166;216;84", "255;217;47")
_VISIBLE = str.maketrans({"\n": "↵", "\t": "⇥"})


def pieces(tokenizer, text, add_special_tokens=True):
    """The text of every token the tokenizer makes of `text`, each id decoded on its own (as the model's
    vocabulary spells it). Incomplete UTF-8 bytes decode to '�'. SentencePiece vocabularies mark a leading space
    with '▁', which decoding one token alone drops; it is put back so that whitespace stays visible."""
    return _decode_each(tokenizer, tokenizer(text, add_special_tokens=add_special_tokens).input_ids)


def _decode_each(tokenizer, ids):
    out = []
    for raw, token_id in zip(tokenizer.convert_ids_to_tokens(ids), ids, strict=True):
        piece = tokenizer.decode([token_id])
        out.append(" " + piece if raw.startswith("▁") and not piece.startswith(" ") else piece)
    return out


class ColouredTokens:
    """Tokens on the book's alternating background colours, as HTML in a notebook (`|`-separated text elsewhere);
    the chapter's own `show_tokens` prints the same colours with the book's terminal escape codes."""

    def __init__(self, tokens, title=""):
        self.tokens, self.title = list(tokens), title

    def _repr_html_(self):
        style = "color:black;white-space:pre;font-family:monospace;padding:1px 0;margin-right:2px"
        spans = "".join(f'<span style="background:rgb({COLOURS[i % len(COLOURS)].replace(";", ",")});{style}">'
                        f'{html.escape(t.translate(_VISIBLE))}</span>' for i, t in enumerate(self.tokens))
        head = f"<b>{html.escape(self.title)}</b> ({len(self.tokens)} tokens)<br>" if self.title else ""
        return f'<div style="line-height:1.9">{head}{spans}</div>'

    def __repr__(self):
        head = f"{self.title} ({len(self.tokens)} tokens)\n" if self.title else ""
        return head + "|".join(t.translate(_VISIBLE) for t in self.tokens)


def _method(tokenizer):
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return type(tokenizer).__name__
    model = type(backend.model).__name__
    if model == "BPE" and getattr(backend.model, "byte_fallback", False):
        return "BPE with byte fallback (SentencePiece)"
    if model == "BPE" and "ByteLevel" in repr(backend.pre_tokenizer) + repr(backend.decoder):
        return "byte-level BPE"
    if model == "Unigram":
        return "Unigram (SentencePiece)"
    return model


def _spans(tokenizer, text, substring):
    """The decoded tokens that cover `substring` (its first occurrence) inside `text`."""
    start = text.find(substring)
    if start < 0:
        return None
    end = start + len(substring)
    enc = tokenizer(text, return_offsets_mapping=True)
    return _decode_each(tokenizer, [i for i, (a, b) in zip(enc.input_ids, enc.offset_mapping, strict=True)
                                    if b > a and a < end and b > start])


def _mark(piece):
    return piece.translate(_VISIBLE).replace(" ", "␣")


def _show(parts, tokenizer):
    if parts is None:
        return "(not in text)"
    if not parts:
        return "dropped"
    if tokenizer.unk_token and tokenizer.unk_token in parts:
        return f"{tokenizer.unk_token} ×{len(parts)}" if len(parts) > 1 else tokenizer.unk_token
    if any("\ufffd" in p for p in parts):
        return f"{len(parts)} byte pieces"
    return "|".join(map(_mark, parts))


def _tally(found):
    if not found:
        return "dropped"
    return ", ".join(f"{_mark(p)} ×{n}" for p, n in Counter(found).most_common())


def describe(tokenizer, text, probes=("CAPITALIZATION", "🎵", "鸟", "show_tokens", "elif")):
    """One row of the comparison table: the tokenizer's method, vocabulary size, special tokens, how many tokens
    `text` takes, the tokens that cover each probe substring, and what became of newlines, other whitespace
    and digits. '␣' is a space, '⇥' a tab, '↵' a newline."""
    parts = pieces(tokenizer, text, add_special_tokens=False)
    special = sorted((t.content for t in tokenizer.added_tokens_decoder.values() if t.special),
                     key=lambda t: "reserved" in t or "placeholder" in t)      # unused slots last
    row = {
        "method": _method(tokenizer),
        "vocabulary": len(tokenizer),
        "tokens": len(tokenizer(text).input_ids),
        "special tokens": " ".join(special[:8]) + (f" (+{len(special) - 8} more)" if len(special) > 8 else ""),
    }
    for probe in probes:
        row[probe] = _show(_spans(tokenizer, text, probe), tokenizer)
    row["newlines"] = _tally([p for p in parts if "\n" in p])
    row["tabs and spaces"] = _tally([p for p in parts if "\n" not in p and ("\t" in p or (p and not p.strip()))])
    row["digits"] = "|".join(p.strip() for p in parts if p.strip().isdigit()) or "dropped"
    return row


def compare_tokenizers(tokenizers, text, **kwargs):
    """A table with one row per tokenizer (a dict name -> tokenizer); see `describe` for the columns."""
    import pandas as pd
    return pd.DataFrame({name: describe(tok, text, **kwargs) for name, tok in tokenizers.items()}).T


def hub_access_problem(error):
    """'gated' or 'authentication' when `error` (or an error it was raised from) says the Hub refused access to
    a gated or private repository; None for any other error."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, GatedRepoError):
            return "gated"
        if isinstance(error, HfHubHTTPError) and getattr(error.response, "status_code", None) in (401, 403):
            return "authentication"
        error = error.__cause__ or error.__context__
    return None


def load_tokenizers(names, loader=load_tokenizer):
    """Load each named tokenizer. A gated or private Hub repository that refuses access is skipped, with a
    message saying how to get access; every other error is raised. Returns (loaded, skipped) dicts."""
    loaded, skipped = {}, {}
    for name in names:
        try:
            loaded[name] = loader(name)
        except Exception as err:
            problem = hub_access_problem(err)
            if problem is None:
                raise
            skipped[name] = (f"skipped {name}: the Hub refused access ({problem}). Accept its terms at "
                             f"https://huggingface.co/{name} and log in (`hf auth login` or HF_TOKEN) to include it.")
    return loaded, skipped
