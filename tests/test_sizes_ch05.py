"""Chapter 5 at the edges of what its parameters cell accepts (issue 26): every code cell after the parameters, as
it stands in the notebook, executed in one namespace on 100 posts of the offline corpus with tiny language models,
runs to the end, and each section that needs more topics than were found says so in one line; values outside the
declared ranges stop at the check, before anything loads."""
import contextlib
import io
import warnings

import numpy as np
import pytest
import yaml

from chapter_code import code_cells
from utils import cache
from utils.params import ParameterError
from utils.paths import CHAPTERS

PROFILE = CHAPTERS / "profiles" / "offline" / "ch05_clustering_and_topics.yaml"
SKIPPED = "found: "                       # how enough_topics() starts its one line


class FixedClusters:
    """Stands in for HDBSCAN where a test needs an exact number of topics: `fit` hands back the labels it was given
    (first the hand-made pipeline's fit, then BERTopic's), so BERTopic's topics still equal the clusters."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __call__(self, **settings):       # the chapter calls HDBSCAN(min_cluster_size=..., ...)
        return self

    def fit(self, X, y=None):
        self.labels_ = self.labels[:len(X)]
        return self


def chat_model(folder):
    """A tiny model's folder with a plain chat template added (the chapter wraps its prompt in one)."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<assistant>{% endif %}")
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def run_chapter(tmp_path, monkeypatch, shared_cache, tiny):
    """run_chapter(clusters=None, **parameters) -> (the namespace after the last cell, what the cells printed): the
    offline profile with `parameters` over it and tiny stand-ins for the language models; `clusters` replaces
    HDBSCAN by FixedClusters(clusters)."""
    import matplotlib
    import matplotlib.pyplot as plt
    matplotlib.use("Agg")
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    monkeypatch.setattr(cache, "FOLDER", shared_cache)
    models = {"generation_model": str(chat_model(tiny("opt"))), "seq2seq_model": None, "cpu_threads": None}

    def execute(clusters=None, **parameters):
        sources = code_cells("ch05")
        namespace = {}
        exec(sources[1], namespace)                                   # the parameters cell, then what papermill adds
        namespace.update(yaml.safe_load(PROFILE.read_text()))
        namespace.update(models, output_dir=str(tmp_path / "out"), **parameters)
        printed, drawn = io.StringIO(), namespace.setdefault("drawn", {})     # figure titles: pixels wide
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for source in sources[2:]:
                exec(source, namespace)
                if clusters is not None and "HDBSCAN" in namespace:
                    namespace["HDBSCAN"] = FixedClusters(clusters)
                for figure in map(plt.figure, plt.get_fignums()):
                    for ax in figure.axes:
                        drawn[ax.get_title()] = figure.get_size_inches()[0] * figure.dpi * ax.get_position().width
                plt.close("all")
        return namespace, printed.getvalue()
    return execute


def skipped(printed):
    return [line for line in printed.splitlines() if SKIPPED in line]


@pytest.mark.chapter
def test_the_smallest_sizes_run_to_the_end(run_chapter, tiny, fake_openai):
    """Every lower edge at once, with the first offered value of each choice (stop words None, no extra ones, MMR
    diversity 0, bfloat16, Flan-T5 through the tiny T5), a word-cloud topic that does not exist, and paid labels
    (from the local fake OpenAI server), which the map and the word cloud then show."""
    fake_openai.reply = "topic: Space exploration"
    namespace, printed = run_chapter(n_documents=100, min_cluster_size=2, max_seq_length=8, label_doc_words=1,
                                     label_max_new_tokens=1, n_datamap_topics=2, mmr_diversity=0.0, stop_words=None,
                                     extra_stop_words=None, dtype="bfloat16", seq2seq_model=str(tiny("t5")),
                                     wordcloud_topic=1000)
    assert len(namespace["abstracts"]) == 100 and namespace["n_topics"] >= 2
    assert skipped(printed) == []                                     # enough topics for every section
    assert "there is no topic 1000 among these" in printed and (namespace["out"] / "datamapplot.png").exists()
    assert set(namespace["labels"]) == {"original", "Flan-T5", "local chat model", "GPT"}
    assert set(namespace["map_labels"].values()) == {"Space exploration"}       # the paid labels, on every topic
    assert namespace["drawn"]["Topic 0: Space exploration"] >= 600              # the word cloud, in pixels
    assert all(namespace["llm_labels"].values())                     # a label, or the keywords, for every topic
    assert sorted(path.name for path in namespace["out"].glob("*.html")) == [
        "barchart.html", "documents.html", "heatmap.html", "hierarchy.html"]
    assert (namespace["out"] / "plotly.min.js").exists()              # one copy, shared


@pytest.mark.chapter
def test_a_minimum_cluster_size_above_every_group_runs_to_the_end(run_chapter, monkeypatch):
    """All documents outliers: no topic, and each section that needs one says so in one line."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace, printed = run_chapter(n_documents=100, min_cluster_size=101, max_seq_length=16, stop_words="english",
                                     mmr_diversity=1.0)
    assert namespace["n_clusters"] == namespace["n_topics"] == 0 and namespace["first_topics"] == []
    assert namespace["llm_labels"] == {} and "llm" not in namespace       # the language model is not even loaded
    assert len(skipped(printed)) == 10
    assert all(line.startswith("no topic found: ") or line.startswith("no cluster found: ")
               for line in skipped(printed))
    assert all(line.endswith("lower min_cluster_size or raise n_documents") for line in skipped(printed))
    assert "Traceback" not in printed and "c-TF-IDF by hand and BERTopic's c_tf_idf_ (1 topics" in printed


@pytest.mark.chapter
def test_one_topic_runs_to_the_end(run_chapter, monkeypatch):
    """Exactly one topic besides the outliers (the sample's clusters fixed): the sections that compare topics say
    they need two; the others run. stop_words="english" without extra words is the value that once crashed; the
    other values offered here: the embedder's own max_seq_length, MMR's 0.5, device "auto"."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    one_topic = np.where(np.arange(100) % 3 == 0, -1, 0)
    namespace, printed = run_chapter(clusters=one_topic, n_documents=100, max_seq_length=None, stop_words="english",
                                     extra_stop_words=None, mmr_diversity=0.5, device="auto")
    assert namespace["n_topics"] == 1 and namespace["first_topics"] == [0]
    assert skipped(printed) == [
        "one topic found: the topics' similarity heatmap and hierarchy skipped (at least 2 needed); "
        "lower min_cluster_size or raise n_documents",
        "one topic found: the map of the topics skipped (at least 2 needed); lower min_cluster_size or raise "
        "n_documents"]
    assert set(namespace["llm_labels"]) == {-1, 0} and "outliers: 34 before, " in printed


@pytest.mark.chapter
def test_clusters_without_outliers_run_to_the_end(run_chapter, monkeypatch):
    """Every document in a cluster (seen on native kernels, where HDBSCAN may call no document an outlier): the
    outlier section says there is nothing to reduce instead of BERTopic's ValueError."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace, printed = run_chapter(clusters=np.arange(100) % 3, n_documents=100, max_seq_length=16)
    assert namespace["n_topics"] == 3 and namespace["n_outliers"] == 0 and skipped(printed) == []
    assert "no outliers: every document already has a topic, so reduce_outliers has nothing to do" in printed


@pytest.mark.parametrize("name, value, message", [
    ("n_documents", 99, "n_documents=99: this chapter works with at least 100"),
    ("min_cluster_size", 1, "min_cluster_size=1: this chapter works with at least 2"),
    ("max_seq_length", 7, "max_seq_length=7: this chapter works with at least 8"),
    ("mmr_diversity", 1.5, "mmr_diversity=1.5: this chapter works with from 0 to 1"),
    ("n_datamap_topics", 1, "n_datamap_topics=1: this chapter works with at least 2"),
])
def test_values_outside_the_ranges_stop_before_anything_loads(name, value, message):
    sources = code_cells("ch05")
    namespace = {}
    exec(sources[1], namespace)
    namespace[name] = value
    with pytest.raises(ParameterError, match="nothing has been loaded yet") as error:
        exec(sources[2], namespace)
    assert message in str(error.value) and "UMAP" not in namespace
    namespace[name] = {"mmr_diversity": 1.0}.get(name, value + 1)     # the edge itself passes
    exec(sources[2], namespace)
