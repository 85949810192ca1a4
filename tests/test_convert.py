"""The installer's one-time conversion (tools/convert.py): it changes how fast a model loads, not what it computes."""
import pytest
import torch

from tools import convert
from utils import assets
from utils.models import from_pretrained_args, load_tokenizer

BOOK_PROMPT = ("Write an email apologizing to Sarah for the tragic gardening mishap. Explain how it happened."
               "<|assistant|>")


@pytest.mark.slow
def test_converted_model_computes_what_the_gguf_file_computes():
    """The one-time conversion (tools/convert.py) changes load time, not the model."""
    from transformers import AutoModelForCausalLM

    gguf = assets.path("offline:smollm2-135m-instruct")
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    cached = AutoModelForCausalLM.from_pretrained(**from_pretrained_args("offline:smollm2-135m-instruct"))
    ids = torch.tensor([[1, 504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, cached(ids).logits)


def _stripped_like_transformers_5_15(tokenizer):
    """A copy of a SentencePiece tokenizer as transformers 5.15's GGUF reader leaves it: no normalizer, no <s>, no
    byte fallback."""
    import json

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["normalizer"] = None
    spec["post_processor"] = None
    spec["decoder"] = {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"},
                                                         "content": " "}]}
    spec["model"].update(byte_fallback=False, fuse_unk=False)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
                                   bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token)


@pytest.mark.parametrize("text", [BOOK_PROMPT, "  two spaces, a tab\there", "héllo 🎵 wörld", "3.14 + 870 = 871"])
def test_a_sentencepiece_vocab_read_without_its_steps_gets_them_back(text):
    phi3 = load_tokenizer("offline:phi3-tokenizer")
    broken = _stripped_like_transformers_5_15(phi3)
    assert broken(text).input_ids != phi3(text).input_ids      # what Colab's transformers gave: spaces lost, no <s>
    convert._restore_sentencepiece_steps(broken)
    assert broken(text).input_ids == phi3(text).input_ids
    assert broken.decode(broken(text).input_ids, skip_special_tokens=True) == phi3.decode(
        phi3(text).input_ids, skip_special_tokens=True)


def test_a_byte_level_vocab_is_left_as_it_is():
    gpt2 = load_tokenizer("offline:gpt2-tokenizer")
    before = gpt2.backend_tokenizer.to_str()
    convert._restore_sentencepiece_steps(gpt2)
    assert gpt2.backend_tokenizer.to_str() == before
