"""Chapter 5's plumbing: the offline corpus loader, Flan-T5 topic labels through BERTopic under transformers 5 (on a
tiny T5 built from a config) with the chapter's prompt, cached label answers, tidied labels, the chapter's OpenAI
labels against a fake server (a label, or one sentence within a bounded time), c-TF-IDF by hand against BERTopic's,
and interactive figures kept out of headless recordings."""
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from chapter_code import cell, function, value
from utils import cache, data, openai_api, plots


class _Imported:
    """utils.topics, imported when a test first uses it: it imports BERTopic (about 12 s, numba compiling at import),
    which every pytest worker would otherwise pay while collecting this file."""

    def __getattr__(self, name):
        from utils import topics as module
        return getattr(module, name)


topics = _Imported()

PROMPT = "Documents:\n[DOCUMENTS]\nKeywords: '[KEYWORDS]'.\nWhat is this topic about?"


def test_the_offline_corpus_keeps_labels_proportions_and_repeats():
    documents, titles, labels = data.load_abstracts("offline:20newsgroups", n_documents=400, seed=1)
    assert len(documents) == len(titles) == len(labels) == 400
    counts = Counter(labels)
    assert len(counts) == 20 and max(counts.values()) - min(counts.values()) <= 12       # stratified, not skewed
    assert all(len(doc.split()) >= 20 for doc in documents)
    assert all(title.endswith(" …") and doc.startswith(title[:-2])
               for doc, title in zip(documents, titles, strict=True))
    assert data.load_abstracts("offline:20newsgroups", n_documents=400, seed=1)[0] == documents
    assert data.load_abstracts("offline:20newsgroups", n_documents=400, seed=2)[0] != documents
    everything = data.load_abstracts("offline:20newsgroups", n_documents=None)[0]          # None: all of them
    assert len(everything) == len(data.load_abstracts("offline:20newsgroups", n_documents=10**6)[0]) > 11_000
    reuters = data.load_abstracts("offline:reuters-r8", n_documents=100)
    assert len(set(reuters[2])) == 8 and len(reuters[0]) == 100


def test_a_non_corpus_asset_is_a_clear_error():
    with pytest.raises(ValueError, match="not a labelled text corpus"):
        data.load_abstracts("offline:glove-6b-50d")


def _small_topic_model(n_topics):
    """A small BERTopic fitted on 20 Newsgroups posts without UMAP (k-means on TF-IDF vectors): quick, real."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    documents, _, _ = data.load_abstracts("offline:20newsgroups", n_documents=300, seed=0)
    tfidf = TfidfVectorizer(stop_words="english").fit_transform(documents)
    vectors = TruncatedSVD(20, random_state=0).fit_transform(tfidf)
    model = BERTopic(umap_model=BaseDimensionalityReduction(), hdbscan_model=KMeans(n_topics, n_init=3, random_state=0),
                     vectorizer_model=CountVectorizer(stop_words="english"))
    model.fit(documents, vectors)
    return model, documents


@pytest.fixture(scope="module")
def topic_model():
    """Four topics of 300 posts, each with at least four documents."""
    return _small_topic_model(4)


@pytest.fixture(scope="module")
def six_topics():
    """Six topics, for the chapter's cells that show the first five."""
    return _small_topic_model(6)


def test_the_chapters_ctfidf_by_hand_matches_bertopic(topic_model):
    from scipy import sparse
    model, documents = topic_model
    ctfidf_by_hand = function("ch05", "ctfidf_by_hand", {"np": np, "sparse": sparse})   # the chapter's own formula
    namespace = {"np": np, "pd": pd, "sparse": sparse, "abstracts": documents, "topics": np.array(model.topics_),
                 "topic_model": model}
    exec(cell("ch05", "ctfidf_by_hand(counts)"), namespace)           # the chapter's check passes on this model ...
    by_hand = ctfidf_by_hand(namespace["counts"]).toarray()
    np.testing.assert_allclose(by_hand, model.c_tf_idf_.toarray(), rtol=1e-6, atol=1e-9)
    row = sorted(set(model.topics_)).index(0)                          # a row per topic, in order
    top = [model.vectorizer_model.get_feature_names_out()[i] for i in np.argsort(-by_hand[row])[:10]]
    assert top == [word for word, _ in model.get_topic(0)]
    namespace["topics"] = np.roll(namespace["topics"], 1)     # ... and fails on counts that are not BERTopic's
    with pytest.raises(AssertionError, match="c-TF-IDF by hand differs"):
        exec(cell("ch05", "ctfidf_by_hand(counts)"), namespace)


@pytest.fixture(scope="module")
def tiny_t5(tiny):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    folder = tiny("t5")
    return AutoModelForSeq2SeqLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_flan_t5_labels_go_through_bertopic_with_the_books_prompt(topic_model, tiny_t5):
    from copy import deepcopy
    model, documents = deepcopy(topic_model[0]), topic_model[1]
    t5, tokenizer = tiny_t5
    books_prompt = value("ch05", "label_prompt")                  # the chapter's prompt, not a copy
    assert books_prompt.startswith("I have a topic that contains the following documents:\n[DOCUMENTS]")
    labeller = topics.Seq2SeqGeneration(t5, tokenizer, prompt=books_prompt, max_new_tokens=6, doc_length=20,
                                        doc_tokenizer="whitespace")
    keywords = {t: [w for w, _ in model.get_topic(t)] for t in model.get_topics()}
    from sklearn.feature_extraction.text import CountVectorizer
    vectorizer = CountVectorizer(stop_words="english")
    model.update_topics(documents, vectorizer_model=vectorizer, representation_model=labeller)
    assert len(labeller.prompts_) == len(keywords)
    for topic, prompt in zip(sorted(keywords), labeller.prompts_, strict=True):
        assert "[DOCUMENTS]" not in prompt and f"keywords: '{', '.join(keywords[topic])}" in prompt  # both filled
        assert prompt.endswith("Based on the documents and keywords, what is this topic about?")
        assert prompt.count("\n- ") == 4 and all(len(line.split()) <= 21 for line in prompt.splitlines()[1:5])
        with torch.no_grad():     # baseline: the same prompt through generate directly
            out = t5.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=6, do_sample=False)
        assert model.get_topic(topic)[0][0] == tokenizer.decode(out[0], skip_special_tokens=True).strip()


def test_a_decoder_only_model_is_sent_to_textgeneration(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder = tiny("opt")
    with pytest.raises(ValueError, match="TextGeneration"):
        topics.Seq2SeqGeneration(AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder))


def test_label_answers_are_generated_once_then_read_from_the_cache(monkeypatch, tmp_path, tiny):
    from bertopic.representation import TextGeneration
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    monkeypatch.setattr(cache, "FOLDER", tmp_path / "cache")
    folder = tiny("opt")
    llm = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    generator = pipeline("text-generation", model=llm, tokenizer=tokenizer)
    calls = []

    def counted(prompt, **kwargs):
        calls.append(prompt)
        return generator(prompt, **kwargs)
    labeller = TextGeneration(generator, prompt=PROMPT)
    labeller.model = counted                                       # count what reaches the model
    labeller = topics.with_cached_answers(labeller, llm, tokenizer)
    settings = {"max_new_tokens": 4, "do_sample": False, "return_full_text": False}
    first, again = labeller.model("a prompt", **settings), labeller.model("a prompt", **settings)
    assert calls == ["a prompt"] and first == again == generator("a prompt", **settings)
    labeller.model("a prompt", **{**settings, "max_new_tokens": 2})   # other settings: generated again
    assert calls == ["a prompt", "a prompt"]


def test_answers_asked_with_a_generation_config_are_cached_by_its_settings(monkeypatch, tmp_path, tiny):
    from bertopic.representation import TextGeneration
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, pipeline
    monkeypatch.setattr(cache, "FOLDER", tmp_path / "cache")
    folder = tiny("opt")
    llm, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    generator = pipeline("text-generation", model=llm, tokenizer=tokenizer)
    calls = []

    def counted(prompt, **kwargs):
        calls.append(kwargs["generation_config"].max_new_tokens)
        return generator(prompt, **kwargs)
    labeller = TextGeneration(generator, prompt=PROMPT)
    labeller.model = counted
    labeller = topics.with_cached_answers(labeller, llm, tokenizer)
    settings = {"generation_config": GenerationConfig(max_new_tokens=4, do_sample=False), "tokenizer": tokenizer,
                "return_full_text": False}
    first = labeller.model("a prompt", **settings)
    again = labeller.model("a prompt", **{**settings, "generation_config": GenerationConfig(max_new_tokens=4,
                                                                                            do_sample=False)})
    assert calls == [4] and first == again == generator("a prompt", **settings)
    labeller.model("a prompt", **{**settings, "generation_config": GenerationConfig(max_new_tokens=2, do_sample=False)})
    assert calls == [4, 2]                                          # other settings: generated again


@pytest.mark.parametrize("answer, label", [
    (' "The Future of Digital Media"\n\nThis topic is about the future of', "The Future of Digital Media"),
    (" Space, Space, Space, Space, Space,", "Space"),
    (" Game, Team, Play, H", "Game, Team, Play"),                    # cut off by the token limit
    (' "Card, Bus, Isa, Cards, Driver', "Card, Bus, Isa"),
    (" **Space exploration**.", "Space exploration"),
    (" cryptography\n\nThis topic is about cryptography", "cryptography"),
    (" Windows Shareware Monthly Information Windows Shareware Monthly WSM is", "Windows Shareware Monthly Information "
                                                                             "Windows Shareware"),
    ("", ""), ("\n \n", ""), (' "', "")])
def test_a_small_models_answer_is_tidied_into_a_label(answer, label):
    assert topics.tidy_label(answer) == label


@pytest.mark.parametrize("answer, label", [
    (" Game, Team, Play, H", "Game, Team, Play"),                    # a list loses its unfinished last item
    (' "Windows, Use', "Windows"),
    (" Space, Space, Space, Space, Space,", "Space"),                # the comma closed the last item
    (" Windows Shareware Monthly Information Windows Shareware Monthly WSM is", ""),   # a phrase cut off: unusable
    (' "Article C:', ""),
    (' "Space Exploration" and the', "Space Exploration"),           # the closing quote ended the label
    (' "', "")])
def test_an_answer_cut_at_the_token_limit_keeps_only_finished_words(answer, label):
    assert topics.tidy_label(answer, cut=True) == label


@pytest.mark.parametrize("answer, label", [
    (" The topic is described by the", ""),
    (' "The topic is', ""),
    (" Topic label", ""),
    (" based on the documents and keywords", ""),
    (" The topic of space", "The topic of space"),                 # "the topic" alone is not an echo
    (" Space exploration", "Space exploration")])
def test_an_answer_that_echoes_the_prompt_is_unusable(answer, label):
    chat_prompt = ("<|im_start|>user\n" + value("ch05", "label_prompt") + " Answer with a short topic label only."
                   "<|im_end|>\n<|im_start|>assistant\nTopic label:")
    assert topics.tidy_label(answer, prompt=chat_prompt) == label
    assert topics.tidy_label(answer) == topics.tidy_label(answer, prompt="") != ""   # usable without the prompt



KEYWORDS = ["game", "team", "play", "hockey", "cubs", "windows", "file", "ca"]


@pytest.mark.parametrize("answer, cut, label, why", [
    (' "Game, Team, Play, Hockey, Cups', False, "", "restates the keywords"),      # its first three items: keywords
    (" Windows, File, C:\n", False, "", "restates the keywords"),                  # one-letter words do not count
    (' "The topic of the topic"', False, "", "talks about the topic, not its subject"),
    (" Topic: documents", False, "", "talks about the topic, not its subject"),
    (" Topic modeling", False, "Topic modeling", ""),                             # a subject besides "topic"
    (' "Cryptography Faq"', False, "Cryptography Faq", ""),
    (" Hockey playoffs", False, "Hockey playoffs", ""),                           # one word beyond the keywords
    (" Bike and Car: New Break", True, "", "cut off at the token limit"),
    (' "Bike and Car: New Break Plays Off"', True, "Bike and Car: New Break Plays…", ""),   # quote closed; 6 words
    (" \n", False, "", "empty answer")])
def test_a_label_that_restates_the_keywords_or_talks_about_the_topic_is_not_an_answer(answer, cut, label, why):
    assert topics.label_from_answer(answer, KEYWORDS, cut=cut) == (label, why)


def test_an_echo_of_the_prompt_is_named_as_such():
    prompt = "The topic is described by the following keywords"
    assert topics.label_from_answer(" The topic is described by the", KEYWORDS, prompt=prompt) == (
        "", "echoes the prompt")


def test_majority_share_names_each_topics_largest_true_label_and_its_share():
    found = [0, 0, 0, 1, 1, -1, 0]
    truth = ["space", "space", "hockey", "hockey", "hockey", "space", "space"]
    assert topics.majority_share(found, truth) == {-1: ("space", 1.0), 0: ("space", 0.75), 1: ("hockey", 1.0)}

@pytest.mark.parametrize("n_topics, needed, printed", [
    (0, 1, "no topic found: the word cloud skipped (at least 1 needed); lower min_cluster_size or raise n_documents\n"),
    (1, 2, "one topic found: the word cloud skipped (at least 2 needed); lower min_cluster_size or raise "
           "n_documents\n"),
    (3, 5, "3 topics found: the word cloud skipped (at least 5 needed); lower min_cluster_size or raise n_documents\n"),
    (2, 2, ""), (9, 1, "")])
def test_a_section_without_enough_topics_says_so_in_one_line(capsys, n_topics, needed, printed):
    assert topics.enough_topics(n_topics, needed, "the word cloud") is (printed == "")
    assert capsys.readouterr().out == printed


@pytest.fixture
def chapter_openai_cell(six_topics):
    """Runs the chapter's OpenAI cell, as it stands in the notebook, on a copy of the small topic model; returns
    (its namespace, with the labels table it fills and the paid labels, what it printed, its wall time)."""
    import contextlib
    import io
    from copy import deepcopy

    import openai
    from bertopic.representation import OpenAI
    from sklearn.feature_extraction.text import CountVectorizer

    def execute(timeout_s=0.5, max_retries=1, deadline_s=30):
        labels = {"original": {}}
        namespace = {"openai_client": openai_api.openai_client, "explain": openai_api.explain, "openai": openai,
                     "PaidSection": openai_api.PaidSection, "estimate": openai_api.estimate,
                     "OpenAI": OpenAI, "pd": pd, "topic_model": deepcopy(six_topics[0]), "abstracts": six_topics[1],
                     "vectorizer": lambda: CountVectorizer(stop_words="english"), "labels": labels,
                     "openai_model": "gpt-3.5-turbo", "openai_timeout_s": timeout_s, "openai_max_retries": max_retries,
                     "openai_deadline_s": deadline_s,
                     "n_topics": 6, "first_topics": list(range(5)), "enough_topics": topics.enough_topics,
                     "display": lambda table: None}
        printed, start = io.StringIO(), time.perf_counter()
        with contextlib.redirect_stdout(printed):
            exec(cell("ch05", "OpenAI(paid"), namespace)
        return namespace, printed.getvalue(), time.perf_counter() - start
    return execute


def test_the_chapters_openai_labels_come_back_through_bertopic(fake_openai, chapter_openai_cell, six_topics):
    fake_openai.reply = "topic: Space exploration"
    namespace, printed, _ = chapter_openai_cell()
    assert namespace["labels"]["GPT"] == {t: "Space exploration" for t in range(5)}
    assert namespace["paid_labels"] == {t: "Space exploration" for t in range(6)}      # every topic, for the map
    assert len(fake_openai.requests) == len(six_topics[0].get_topics())      # one request per topic, no retries
    estimate, summary = printed.splitlines()
    assert estimate.startswith("before the calls, roughly") and "6 requests" in estimate
    assert summary.startswith("[cache] OpenAI replies: 6 paid for now")
    again, printed, _ = chapter_openai_cell()                      # a second run pays nothing: the replies are kept
    assert len(fake_openai.requests) == 6 and again["paid_labels"] == namespace["paid_labels"]
    assert "0 paid for now" in printed and "6 loaded from" in printed
    request = fake_openai.requests[0]
    assert request["model"] == "gpt-3.5-turbo" and request["stop"] == "\n"
    system, user = request["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "[DOCUMENTS]" not in user["content"] and "[KEYWORDS]" not in user["content"]
    assert user["content"].startswith("I have a topic that contains the following documents:\n- ")


def test_a_rate_limited_openai_label_is_one_sentence_within_a_bounded_time(fake_openai, chapter_openai_cell):
    fake_openai.mode = "limited"                                   # every request answers 429
    namespace, printed, seconds = chapter_openai_cell(timeout_s=0.5, max_retries=1)
    assert seconds < 10 and "GPT" not in namespace["labels"]     # bertopic's own backoff would take minutes
    assert namespace["paid_labels"] == {}                          # the map keeps the local model's labels
    assert len(fake_openai.requests) == 2                          # the first topic, retried once; then it stops
    estimate, failure, summary = printed.splitlines()
    assert "rate limit" in failure and "the rest of the chapter runs on" in failure
    assert summary.startswith("[cache] OpenAI replies: 0 paid for now") and "sk-test" not in printed


@pytest.mark.parametrize("retry_after", [30, 120])
def test_a_section_asked_to_wait_past_its_deadline_stops_at_once(fake_openai, chapter_openai_cell, retry_after):
    fake_openai.mode, fake_openai.retry_after = "limited", retry_after          # 429 with Retry-After: 30 s, 120 s
    namespace, printed, seconds = chapter_openai_cell(max_retries=2, deadline_s=20)
    assert seconds < 10 and namespace["paid_labels"] == {} and len(fake_openai.requests) == 1
    assert f"the API asked to wait {retry_after} s" in printed and "deadline of 20 s" in printed


def test_without_a_key_the_chapters_openai_cell_says_so_and_goes_on(monkeypatch, chapter_openai_cell):
    monkeypatch.delenv(openai_api.KEY, raising=False)
    namespace, printed, _ = chapter_openai_cell()
    assert "GPT" not in namespace["labels"] and printed.startswith("Skipped: OPENAI_API_KEY is not set")


def test_interactive_figures_are_files_in_headless_runs(tmp_path, monkeypatch, capsys):
    import plotly.graph_objects as go
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    monkeypatch.setattr(go.Figure, "show", lambda self, *args, **kwargs: pytest.fail("shown in a headless run"))
    for name in ("scatter", "bars"):
        plots.show_interactive(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), tmp_path / f"{name}.html")
    html = (tmp_path / "scatter.html").read_text()
    assert "<html>" in html and '<script charset="utf-8" src="plotly.min.js"></script>' in html
    assert len(html) < 20_000 and sorted(p.name for p in tmp_path.iterdir()) == ["bars.html", "plotly.min.js",
                                                                                 "scatter.html"]
    assert capsys.readouterr().out.startswith("[figure] scatter.html (open it in a browser, with plotly.min.js")


def test_interactive_figures_are_shown_to_a_reader(tmp_path, monkeypatch, capsys):
    import plotly.graph_objects as go
    monkeypatch.delenv("HOLLM_HEADLESS", raising=False)             # JupyterLab or Colab
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda self, *args, **kwargs: shown.append(self))
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    plots.show_interactive(figure, tmp_path / "scatter.html")
    assert shown == [figure] and not (tmp_path / "scatter.html").exists() and capsys.readouterr().out == ""


def test_equal_labels_are_told_apart_for_the_map():
    labels = {-1: "Space", 0: "Space", 1: "Hockey", 2: "Space exploration"}
    assert topics.distinct_labels(labels) == {-1: "Space (topic -1)", 0: "Space (topic 0)", 1: "Hockey",
                                              2: "Space exploration"}
    assert topics.distinct_labels({0: "Hockey", 1: "Space"}) == {0: "Hockey", 1: "Space"}
