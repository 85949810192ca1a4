"""Coloured tokens, the tokenizer comparison table (on the real offline tokenizers) and skipping gated repos."""
import httpx2
import pytest
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from chapter_code import function
from utils.assets import AssetError
from utils.models import load_tokenizer
from utils.tokens import (
    COLOURS,
    ColouredTokens,
    compare_tokenizers,
    describe,
    hub_access_problem,
    load_tokenizers,
    pieces,
)

TEXT = ('\nEnglish and CAPITALIZATION\n🎵 鸟\nshow_tokens False None elif == >= else: two tabs:"\t\t" '
        'Three tabs: "\t\t\t"\n12.0*50=600\n')


@pytest.fixture(scope="module")
def toks():
    return {name: load_tokenizer(f"offline:{name}-tokenizer") for name in ("bert-base-uncased", "gpt2", "phi3",
                                                                           "starcoder2")}


def test_pieces_of_a_byte_level_tokenizer_spell_the_text(toks):
    text = "def add(a, b):\n\treturn a  +  b"
    assert "".join(pieces(toks["gpt2"], text)) == text


def test_sentencepiece_pieces_keep_their_leading_spaces(toks):
    # decoding one '▁and' token alone gives 'and'; the piece must keep its space so whitespace stays visible
    assert pieces(toks["phi3"], "English and  more", add_special_tokens=False)[1:] == [" and", " ", " more"]


def test_the_chapters_show_tokens_prints_the_books_six_colours(toks, capsys):
    show_tokens = function("ch02", "show_tokens", {"COLOURS": COLOURS})
    show_tokens("one two three four five six seven", toks["gpt2"])
    printed = capsys.readouterr().out
    assert len(COLOURS) == 6 and COLOURS[0] == "102;194;165" and COLOURS[5] == "255;217;47"
    assert printed.startswith("\x1b[0;30;48;2;102;194;165mone\x1b[0m \x1b[0;30;48;2;252;141;98m two\x1b[0m ")
    assert printed.count("\x1b[0;30;48;2;") == 7 and printed.endswith("\x1b[0;30;48;2;102;194;165m seven\x1b[0m \n")


def test_coloured_tokens_cycle_the_same_colours_as_html(toks):
    view = ColouredTokens(pieces(toks["gpt2"], "one two three four five six seven"), "gpt2")
    spans = view._repr_html_().split("<span")[1:]
    assert len(spans) == 7 and "rgb(102,194,165)" in spans[0] and "rgb(102,194,165)" in spans[6]
    assert "rgb(252,141,98)" in spans[1]
    assert repr(view) == "gpt2 (7 tokens)\none| two| three| four| five| six| seven"


def test_coloured_tokens_make_newlines_and_tabs_visible_and_escape_html(toks):
    view = ColouredTokens(pieces(toks["gpt2"], "a\n\tb<c>"))
    assert repr(view) == "a|↵|⇥|b|<|c|>"
    assert "&lt;" in view._repr_html_() and "<c>" not in view._repr_html_()


def test_bert_uncased_row_matches_the_books_description(toks):
    row = describe(toks["bert-base-uncased"], TEXT)
    assert row["method"] == "WordPiece" and row["vocabulary"] == 30522 and row["tokens"] == 41
    assert row["CAPITALIZATION"] == "capital|##ization"
    assert row["🎵"] == row["鸟"] == "[UNK]"
    assert row["newlines"] == row["tabs and spaces"] == "dropped"
    assert row["elif"] == "eli|##f"
    assert "[CLS]" in row["special tokens"] and "[SEP]" in row["special tokens"]


def test_gpt2_row_counts_one_token_per_tab_and_newline(toks):
    row = describe(toks["gpt2"], TEXT)
    assert row["method"] == "byte-level BPE" and row["vocabulary"] == 50257
    assert row["CAPITALIZATION"] == "␣CAP|ITAL|IZ|ATION"
    assert row["🎵"] == "3 byte pieces"
    assert row["newlines"] == "↵ ×5" and row["tabs and spaces"] == "⇥ ×5"
    assert row["digits"] == "12|0|50|600"


def test_code_and_sentencepiece_tokenizers_split_digits(toks):
    table = compare_tokenizers({"starcoder2": toks["starcoder2"], "phi3": toks["phi3"]}, TEXT)
    assert list(table.index) == ["starcoder2", "phi3"]
    assert (table["digits"] == "1|2|0|5|0|6|0|0").all()
    assert table.loc["starcoder2", "elif"] == "␣elif"
    assert table.loc["starcoder2", "tabs and spaces"].count("⇥⇥") == 1
    assert table.loc["phi3", "method"] == "BPE with byte fallback (SentencePiece)"
    assert table.loc["phi3", "🎵"] == "4 byte pieces"
    assert "<|assistant|>" in table.loc["phi3", "special tokens"]


def test_probe_missing_from_the_text_is_reported(toks):
    assert describe(toks["gpt2"], "no probes here", probes=("CAPITALIZATION",))["CAPITALIZATION"] == "(not in text)"


def _http_error(cls, status, url="https://huggingface.co/bigcode/starcoder2-15b/resolve/main/config.json"):
    response = httpx2.Response(status, request=httpx2.Request("GET", url))
    return cls(f"{status} Client Error. Cannot access repo for url {url}.", response=response)


def test_hub_access_problem_walks_the_error_chain():
    try:
        try:
            raise _http_error(GatedRepoError, 403)
        except GatedRepoError as err:
            raise OSError("You are trying to access a gated repo.") from err
    except OSError as wrapped:
        assert hub_access_problem(wrapped) == "gated"
    assert hub_access_problem(_http_error(HfHubHTTPError, 401)) == "authentication"
    assert hub_access_problem(_http_error(HfHubHTTPError, 500)) is None
    assert hub_access_problem(OSError("disk full")) is None


def test_a_gated_tokenizer_is_skipped_with_a_message_and_the_rest_load(monkeypatch):
    """The book profile's path: transformers asks the Hub for bigcode/starcoder2-15b and the Hub answers that the
    repository is gated. Simulated by making the download functions raise what huggingface_hub raises."""
    import transformers.utils.hub as transformers_hub

    def gated(repo_id, *args, **kwargs):
        raise _http_error(GatedRepoError, 403, f"https://huggingface.co/{repo_id}/resolve/main/config.json")
    monkeypatch.setattr(transformers_hub, "hf_hub_download", gated)
    monkeypatch.setattr(transformers_hub, "snapshot_download", gated)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)       # utils.models.require_hub lets Hub ids through

    loaded, skipped = load_tokenizers(["bigcode/starcoder2-15b", "offline:gpt2-tokenizer"])
    assert list(loaded) == ["offline:gpt2-tokenizer"] and len(loaded["offline:gpt2-tokenizer"]) == 50257
    assert list(skipped) == ["bigcode/starcoder2-15b"]
    assert "gated" in skipped["bigcode/starcoder2-15b"]
    assert "https://huggingface.co/bigcode/starcoder2-15b" in skipped["bigcode/starcoder2-15b"]
    assert "hf auth login" in skipped["bigcode/starcoder2-15b"]


def test_other_errors_are_not_swallowed():
    with pytest.raises(AssetError, match="Unknown offline asset"):
        load_tokenizers(["offline:gpt2-tokenizer", "offline:no-such-tokenizer"])
