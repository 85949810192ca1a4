"""Topic labels written by language models, for BERTopic.

Flan-T5 under transformers 5, answers computed once, a small model's answer tidied into a label (or rejected, with the
reason), each topic's largest true label beside it, labels told apart for a map, and the one line that says a section
is skipped for want of topics."""
import json
import re

import numpy as np
from bertopic.representation import TextGeneration


class Seq2SeqGeneration(TextGeneration):
    """BERTopic's `TextGeneration` for an encoder-decoder model such as Flan-T5. transformers 5 removed the
    `text2text-generation` pipeline that the book passes to `TextGeneration`, which only accepts a pipeline; this
    class keeps everything else of `TextGeneration` (the representative documents, their truncation, the prompt
    with its [DOCUMENTS] and [KEYWORDS] slots, `prompts_`) and answers each prompt with `model.generate`
    (greedy)."""

    def __init__(self, model, tokenizer, prompt=None, max_new_tokens=20, nr_docs=4, diversity=None, doc_length=None,
                 doc_tokenizer=None):
        from bertopic.representation._textgeneration import DEFAULT_PROMPT
        from bertopic.representation._utils import validate_truncate_document_parameters
        if not getattr(model.config, "is_encoder_decoder", False):
            raise ValueError("Seq2SeqGeneration takes an encoder-decoder model (such as Flan-T5); for a decoder-only "
                             "model use bertopic's TextGeneration with a text-generation pipeline")
        self.seq2seq, self.seq2seq_tokenizer, self.max_new_tokens = model, tokenizer, max_new_tokens
        self.model = self.answer                  # what TextGeneration.extract_topics calls as its pipeline
        self.prompt, self.default_prompt_ = prompt or DEFAULT_PROMPT, DEFAULT_PROMPT
        self.pipeline_kwargs, self.nr_docs, self.diversity = {}, nr_docs, diversity
        self.doc_length, self.tokenizer = doc_length, doc_tokenizer
        validate_truncate_document_parameters(self.tokenizer, self.doc_length)
        self.prompts_ = []

    def answer(self, prompt, **kwargs):
        """The model's answer to one prompt, as a pipeline gives it: [{"generated_text": ...}]."""
        import torch
        inputs = self.seq2seq_tokenizer(prompt, return_tensors="pt", truncation=True).to(self.seq2seq.device)
        with torch.no_grad():
            out = self.seq2seq.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return [{"generated_text": self.seq2seq_tokenizer.decode(out[0], skip_special_tokens=True).strip()}]


def with_cached_answers(representation, model, tokenizer):
    """`representation` (a TextGeneration) with each answer of its pipeline stored on disk the first time and
    reused afterwards (`utils.cache.cached`, keyed by the model's weights, the prompt and the generation settings),
    so that a second run of the chapter does not generate the same labels again."""
    from .cache import cached
    generate = representation.model

    def answer(prompt, **kwargs):
        key = prompt + json.dumps(kwargs, sort_keys=True, default=_plain)
        text = cached(model, [key], lambda _: np.array([generate(prompt, **kwargs)[0]["generated_text"]]),
                             tokenizer=tokenizer, what="generated text", verbose=False)
        return [{"generated_text": str(text[0])}]
    representation.model = answer
    return representation


def _plain(value):
    """A pipeline argument that JSON has no type for, for a cache key: a GenerationConfig as the settings it changes
    from the defaults, anything else (a tokenizer, which the cache's key holds already) by its class name."""
    if hasattr(value, "to_diff_dict"):
        return {k: v for k, v in value.to_diff_dict().items() if k != "transformers_version"}
    return type(value).__name__


def tidy_label(answer, prompt="", cut=False, max_items=3, max_words=6):
    """A small model's answer as a topic label, or "" when it is unusable (`label_from_answer` also says why). The
    label: the answer's first line that has any text, without surrounding quotes, asterisks or trailing punctuation;
    the text inside the quotes when the answer starts with a quoted label; a comma-separated list without repeated
    items, cut to its first `max_items` ("Space, Space, Space," -> "Space"); at most `max_words` words. `cut`: the
    answer stopped at the token limit, so its last words are unfinished: a list loses its last item ("Game, Team,
    Play, H" -> "Game, Team, Play"), any other answer is unusable, unless a closing quote ended the label. Unusable
    too: an echo of `prompt` (the label's first words, up to four, stand in the prompt in that order: "The topic is
    described by the")."""
    return _tidy(answer, prompt, cut, max_items, max_words)[0]


def _tidy(answer, prompt, cut, max_items, max_words):
    """`tidy_label`'s label and, when it is "", the reason."""
    lines = [line.strip() for line in answer.splitlines() if line.strip(' "*')]
    if not lines:
        return "", "empty answer"
    line = lines[0].lstrip(' *')
    if line.startswith('"') and '"' in line[1:]:
        line, cut = line[1:line.index('"', 1)], False
    items = line.split(",")
    if cut:
        if len(items) < 2:
            return "", "cut off at the token limit"
        items = items[:-1]
    kept, seen = [], set()
    for item in (item.strip(' "*.,:;-') for item in items):
        if item and item.lower() not in seen:
            seen.add(item.lower())
            kept.append(item)
    label = " ".join(", ".join(kept[:max_items]).split()[:max_words]).rstrip(' .,:;-')
    if not label:
        return "", "empty answer"
    words = re.findall(r"[a-z0-9]+", label.lower())
    if len(words) >= 2 and f" {' '.join(words[:4])} " in f" {' '.join(re.findall(r'[a-z0-9]+', prompt.lower()))} ":
        return "", "echoes the prompt"
    return label, ""


# words that talk about the request rather than the documents: a label made of these (and filler) names no subject
PROMPT_WORDS = {"topic", "topics", "keyword", "keywords", "document", "documents", "label", "labels", "described",
                "describe", "following", "based", "short", "about", "subject", "theme"}
FILLER = {"a", "an", "the", "of", "and", "or", "is", "are", "this", "that", "these", "in", "on", "for", "to", "with",
          "by", "it", "its", "what", "as"}


def label_from_answer(answer, keywords, prompt="", cut=False, max_items=3, max_words=6):
    """(label, why): `tidy_label`'s label of a small model's answer, or "" and the reason it is not counted as an
    answer. Besides tidy_label's reasons (empty, cut off, echoes the prompt), two more: the label only restates the
    topic's `keywords` (every word of two letters or more in it is one of them, "Game, Team, Play" for the keywords
    game, team, play, ...: nothing a reader could not read off the keywords), or it only talks about the request
    (all its words other than filler are words such as "topic", "keywords", "documents": "The topic of the topic").
    A label that names its subject in other words than the keywords passes ("Cryptography Faq"); one that the word
    cap shortened ends in "…"."""
    label, why = _tidy(answer, prompt, cut, max_items, max_words)
    if not label:
        return "", why
    if len(_tidy(answer, prompt, cut, max_items, 10 ** 6)[0].split()) > len(label.split()):
        label += "…"                       # the word cap shortened it: marked, so no one takes it for the answer whole
    words = [w for w in re.findall(r"[a-z0-9]+", label.lower()) if len(w) >= 2]
    keyword_words = {w for keyword in keywords for w in re.findall(r"[a-z0-9]+", str(keyword).lower())}
    if words and all(w in keyword_words for w in words):
        return "", "restates the keywords"
    content = [w for w in words if w not in FILLER]
    if not content or all(w in PROMPT_WORDS for w in content):
        return "", "talks about the topic, not its subject"
    return label, ""


def majority_share(topics, truth):
    """{topic: (its most common true label, that label's share of the topic's documents)} for each topic in
    `topics` (one per document), the outliers' topic -1 included; `truth` gives each document's true label."""
    import pandas as pd
    table = pd.crosstab(pd.Series(np.asarray(topics), name="topic"), pd.Series(np.asarray(truth), name="truth"))
    return {int(t): (str(row.idxmax()), float(row.max() / row.sum())) for t, row in table.iterrows()}


def enough_topics(n_topics, needed, what, kind="topic"):
    """Whether `n_topics` (the outliers not counted) reaches the `needed` that `what` takes; if not, says so in one
    line with what to change."""
    if n_topics >= needed:
        return True
    found = {0: f"no {kind}", 1: f"one {kind}"}.get(n_topics, f"{n_topics} {kind}s")
    print(f"{found} found: {what} skipped (at least {needed} needed); lower min_cluster_size or raise n_documents")
    return False


def distinct_labels(labels):
    """{topic: label} with equal labels told apart by their topic's number ("Space (topic 4)"), since a map draws
    the topics that share a label as one."""
    from collections import Counter
    counts = Counter(labels.values())
    return {t: label if counts[label] == 1 else f"{label} (topic {t})" for t, label in labels.items()}
