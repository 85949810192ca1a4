"""Tiny models of the book's model families, built from a config with a tokenizer trained on gensim's Lee corpus:
they load and run like the real ones (what they compute is meaningless). The book-profile rehearsal stands them in
for book ids the offline catalogue has nothing for; the tests use them for code paths only the book profile takes
(Flan-T5, a three-label RoBERTa sentiment model)."""
from pathlib import Path


def tiny_model(kind, folder, labels=("negative", "neutral", "positive")):
    """A tiny model of the family `kind` ("t5", "bert", "opt", or "roberta-sentiment": a RoBERTa sequence
    classifier whose label ids are `labels` in that order, as cardiffnlp's sentiment models have them) with a tiny
    tokenizer trained here, saved to `folder`. It loads like the real one; its outputs are meaningless."""
    from gensim.test.utils import datapath
    from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers import models as tmodels
    from transformers import (
        BertConfig,
        BertModel,
        BertTokenizerFast,
        OPTConfig,
        OPTForCausalLM,
        PreTrainedTokenizerFast,
        RobertaConfig,
        RobertaForSequenceClassification,
        T5Config,
        T5ForConditionalGeneration,
        T5TokenizerFast,
    )
    corpus = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
    if kind == "bert":
        tok = Tokenizer(tmodels.WordPiece(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.train_from_iterator(corpus, trainers.WordPieceTrainer(
            vocab_size=500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
        tokenizer = BertTokenizerFast(tokenizer_object=tok, do_lower_case=False)
        model = BertModel(BertConfig(vocab_size=500, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64))
    elif kind == "t5":
        tok = Tokenizer(tmodels.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(corpus, trainers.UnigramTrainer(
            vocab_size=500, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"))
        tokenizer = T5TokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                    extra_ids=0)
        model = T5ForConditionalGeneration(T5Config(vocab_size=500, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                                    num_heads=2, decoder_start_token_id=0))
    elif kind == "opt":
        tok = Tokenizer(tmodels.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=500, special_tokens=["<pad>", "</s>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                            bos_token="</s>")
        model = OPTForCausalLM(OPTConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                         ffn_dim=64, num_attention_heads=2, word_embed_proj_dim=32))
    elif kind == "roberta-sentiment":
        special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(tmodels.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=500, special_tokens=special,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>",
                                            eos_token="</s>", unk_token="<unk>", mask_token="<mask>",
                                            model_max_length=128)
        model = RobertaForSequenceClassification(RobertaConfig(
            vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)}))
    else:
        raise ValueError(f"no tiny model of kind {kind!r}")
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
