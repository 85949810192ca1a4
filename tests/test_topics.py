"""Chapter 5's plumbing: the offline corpus loader, Flan-T5 topic labels through BERTopic under transformers 5 (on a
tiny T5 built from a config), cached label answers, c-TF-IDF by hand against BERTopic's, and interactive figures
kept out of headless recordings."""
from collections import Counter

import numpy as np
import pytest
import torch

from utils import data, plots, run, topics
from utils.rehearse import tiny_model

PROMPT = "Documents:\n[DOCUMENTS]\nKeywords: '[KEYWORDS]'.\nWhat is this topic about?"


def test_the_offline_corpus_keeps_labels_proportions_and_repeats():
    documents, titles, labels = data.load_abstracts("offline:20newsgroups", n_documents=400, seed=1)
    assert len(documents) == len(titles) == len(labels) == 400
    counts = Counter(labels)
    assert len(counts) == 20 and max(counts.values()) - min(counts.values()) <= 12       # stratified, not skewed
    assert all(len(doc.split()) >= 20 for doc in documents)
    assert all(title.endswith(" …") and doc.startswith(title[:-2]) for doc, title in zip(documents, titles))
    assert data.load_abstracts("offline:20newsgroups", n_documents=400, seed=1)[0] == documents
    assert data.load_abstracts("offline:20newsgroups", n_documents=400, seed=2)[0] != documents
    reuters = data.load_abstracts("offline:reuters-r8", n_documents=100)
    assert len(set(reuters[2])) == 8 and len(reuters[0]) == 100


def test_a_non_corpus_asset_is_a_clear_error():
    with pytest.raises(ValueError, match="not a labelled text corpus"):
        data.load_abstracts("offline:glove-6b-50d")


@pytest.fixture(scope="module")
def topic_model():
    """A small BERTopic fitted on 20 Newsgroups posts without UMAP (k-means on TF-IDF vectors): quick, real."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    documents, _, _ = data.load_abstracts("offline:20newsgroups", n_documents=300, seed=0)
    tfidf = TfidfVectorizer(stop_words="english").fit_transform(documents)
    vectors = TruncatedSVD(20, random_state=0).fit_transform(tfidf)
    model = BERTopic(umap_model=BaseDimensionalityReduction(), hdbscan_model=KMeans(4, n_init=3, random_state=0),
                     vectorizer_model=CountVectorizer(stop_words="english"))
    model.fit(documents, vectors)
    return model, documents


def test_ctfidf_by_hand_matches_bertopic(topic_model):
    model, documents = topic_model
    ids, vocabulary, weights = topics.ctfidf_by_hand(model, documents, model.topics_)
    assert ids == sorted(set(model.topics_))
    np.testing.assert_allclose(weights, model.c_tf_idf_.toarray(), rtol=1e-6, atol=1e-9)
    top = [vocabulary[i] for i in np.argsort(-weights[ids.index(0)])[:10]]
    assert top == [word for word, _ in model.get_topic(0)]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    folder = tmp_path_factory.mktemp("t5")
    tiny_model("t5", folder)
    return AutoModelForSeq2SeqLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_flan_t5_labels_go_through_bertopic_with_the_books_prompt(topic_model, tiny_t5):
    from copy import deepcopy
    model, documents = deepcopy(topic_model[0]), topic_model[1]
    t5, tokenizer = tiny_t5
    labeller = topics.Seq2SeqGeneration(t5, tokenizer, prompt=PROMPT, max_new_tokens=6, doc_length=20,
                                        doc_tokenizer="whitespace")
    keywords = {t: [w for w, _ in model.get_topic(t)] for t in model.get_topics()}
    from sklearn.feature_extraction.text import CountVectorizer
    vectorizer = CountVectorizer(stop_words="english")
    model.update_topics(documents, vectorizer_model=vectorizer, representation_model=labeller)
    assert len(labeller.prompts_) == len(keywords)
    for topic, prompt in zip(sorted(keywords), labeller.prompts_):
        assert "[DOCUMENTS]" not in prompt and ", ".join(keywords[topic]) in prompt     # both slots filled
        assert prompt.count("\n- ") == 4 and all(len(line.split()) <= 21 for line in prompt.splitlines()[1:5])
        with torch.no_grad():     # baseline: the same prompt through generate directly
            out = t5.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=6, do_sample=False)
        assert model.get_topic(topic)[0][0] == tokenizer.decode(out[0], skip_special_tokens=True).strip()


def test_a_decoder_only_model_is_sent_to_textgeneration(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tiny_model("opt", tmp_path)
    with pytest.raises(ValueError, match="TextGeneration"):
        topics.Seq2SeqGeneration(AutoModelForCausalLM.from_pretrained(tmp_path),
                                 AutoTokenizer.from_pretrained(tmp_path))


def test_label_answers_are_generated_once_then_read_from_the_cache(monkeypatch, tmp_path):
    from bertopic.representation import TextGeneration
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    from utils import embeddings
    monkeypatch.setattr(embeddings, "FOLDER", tmp_path / "cache")
    tiny_model("opt", tmp_path / "opt")
    llm = AutoModelForCausalLM.from_pretrained(tmp_path / "opt")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "opt")
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


def test_interactive_figures_are_files_in_headless_runs(tmp_path, monkeypatch, capsys):
    import plotly.graph_objects as go
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    plots.show_interactive(figure, tmp_path / "scatter.html")
    html = (tmp_path / "scatter.html").read_text()
    assert "<html>" in html and "plotly" in html.lower()
    assert capsys.readouterr().out.startswith("[figure] scatter.html")
    assert run.headless()
