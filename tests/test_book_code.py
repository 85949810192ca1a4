"""docs/book-code.md, checked. Each row of its table has a test here (test_row_NN_...) on tiny models or objects built
in the test, without the Hub: the replacement runs and gives the expected result, and where the book's call fails on
the pinned versions the test shows that it fails, so that a row goes once a library brings the call back. Each row's
last column must name a chapter section and code that are really there (or a file and its text), and the README must
link the page before its first section."""
import json
import logging
import re
import sys
import warnings
from contextlib import contextmanager
from copy import deepcopy

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from chapter_code import function, value
from utils.paths import CHAPTERS, ROOT

PAGE = ROOT / "docs" / "book-code.md"


def table():
    """{row number: its cells} of the page's table (the one whose header starts with "| # |")."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # |"))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows[int(cells[0])] = cells
    return rows


ROWS = table()


def sections(chapter):
    """[(the heading above it, its source)] for every code cell of chapters/<chapter>*.ipynb."""
    [path] = CHAPTERS.glob(f"{chapter}*.ipynb")
    heading, found = None, []
    for c in nbformat.read(path, as_version=4).cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
        elif c.cell_type == "code":
            found.append((heading, c.source))
    return found


def pointers(text):
    """A row's last column as [(chapter or file, section or None, [code snippets])]: its parts are separated by "; ",
    each either `chNN` · *section heading* · `code`, `code` or `path`: `text`, `text`."""
    found = []
    for part in text.split("; "):
        in_chapter = re.fullmatch(r"`(ch0\d)` · \*(.+?)\* · (.+)", part)
        in_file = re.fullmatch(r"`([\w./-]+)`: (.+)", part)
        assert in_chapter or in_file, f"not a pointer: {part!r}"
        if in_chapter:
            found.append((in_chapter[1], in_chapter[2], re.findall(r"`([^`]+)`", in_chapter[3])))
        else:
            found.append((in_file[1], None, re.findall(r"`([^`]+)`", in_file[2])))
    return found


def test_the_table_has_rows_each_with_its_six_columns_and_its_test():
    assert ROWS and all(len(cells) == 6 and all(cells) for cells in ROWS.values())
    assert sorted(ROWS) == list(range(1, len(ROWS) + 1))
    tested = {int(m[1]) for name in globals() if (m := re.match(r"test_row_(\d\d)_", name))}
    assert tested == set(ROWS)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_row_points_at_code_that_is_there(row):
    for where, section, snippets in pointers(ROWS[row][5]):
        assert snippets, (row, where)
        if section is None:
            text = (ROOT / where).read_text(encoding="utf-8")
            missing = [s for s in snippets if s not in text]
        else:
            cells = sections(where)
            assert section in {heading for heading, _ in cells}, f"row {row}: {where} has no section {section!r}"
            missing = [s for s in snippets if not any(s in source for heading, source in cells if heading == section)]
        assert not missing, f"row {row}: not in {where} {section or ''}: {missing}"


def test_the_readme_links_the_page_before_its_first_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/book-code.md)" in readme.split("\n## ")[0]


@contextmanager
def transformers_warnings():
    """The warnings transformers writes to its own logger (which does not propagate), as a list of messages; its
    warn-once cache is cleared first, so that a message seen earlier in this process shows again."""
    logging.Logger.warning_once.cache_clear()
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())
    handler = Collect(logging.WARNING)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def tiny_phi3(tmp_path_factory):
    """A folder with a tiny Phi-3 (two layers, hidden size 32, MLP width 64) saved by transformers' own class."""
    from transformers import Phi3Config, Phi3ForCausalLM
    config = Phi3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                        num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=1,
                        eos_token_id=2)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("phi3")
    Phi3ForCausalLM(config).save_pretrained(folder)
    return folder


def test_row_01_phi3_runs_on_transformers_own_class_not_the_repositorys_code(tiny_phi3, tmp_path, monkeypatch):
    import shutil

    import transformers.dynamic_module_utils as dynamic
    from transformers import AutoModelForCausalLM, DynamicCache, Phi3ForCausalLM
    folder = tmp_path / "phi3-with-its-own-code"
    shutil.copytree(tiny_phi3, folder)
    # like the Hub's Phi-3 repository: config.json names a modeling file that the repository carries itself
    (folder / "modeling_repository.py").write_text(
        "from transformers import Phi3ForCausalLM\n\n\nclass RepositoryPhi3(Phi3ForCausalLM):\n    pass\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_repository.RepositoryPhi3"}
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))   # not the user's HF cache
    monkeypatch.setattr(sys, "path", list(sys.path))
    loaded_before = set(sys.modules)
    try:
        book = AutoModelForCausalLM.from_pretrained(folder, dtype="auto", trust_remote_code=True)
        assert type(book).__module__.startswith("transformers_modules.")       # the repository's code runs
    finally:
        for name in set(sys.modules) - loaded_before:
            if name.startswith("transformers_modules"):
                del sys.modules[name]
    # what the Hub's modeling_phi3.py reads from the cache at every generation step
    assert not hasattr(DynamicCache(), "seen_tokens")

    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")           # the chapters' call
    assert type(model) is Phi3ForCausalLM
    ids = torch.tensor([[1, 5, 6, 7]])
    cached = model.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert cached.shape == (1, 10) and torch.equal(cached[:, :4], ids)
    assert torch.equal(cached, model.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False,
                                              use_cache=False))                 # the cache changes nothing


def test_row_02_phi3s_printout_has_one_rotary_embedding_for_the_whole_model(tiny_phi3):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(tiny_phi3)
    printed = str(model)                                                       # what print(model) shows
    assert printed.count("(rotary_emb)") == 1 and "embed_dropout" not in printed
    attention = model.model.layers[0].self_attn
    assert hasattr(model.model, "rotary_emb") and not hasattr(attention, "rotary_emb")
    # the shapes the book reads off the printout: queries, keys and values in one matrix, gate and up in another
    assert tuple(attention.qkv_proj.weight.shape) == (3 * 32, 32)
    assert tuple(model.model.layers[0].mlp.gate_up_proj.weight.shape) == (2 * 64, 32)
    # the chapter's call: one cosine and one sine per position and per dimension of a head
    head_dim = 32 // 2
    cos, sin = model.model.rotary_emb(torch.zeros(1, 5, 32), torch.arange(5)[None])
    assert cos.shape == sin.shape == (1, 5, head_dim)
    torch.testing.assert_close(cos[0, 0], torch.ones(head_dim))                # position 0: no turn at all
    torch.testing.assert_close(cos ** 2 + sin ** 2, torch.ones(1, 5, head_dim))


def test_row_03_return_all_scores_is_ignored_and_top_k_none_sorts_by_score(tiny):
    import datasets
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    from transformers.pipelines.pt_utils import KeyDataset
    folder = tiny("roberta-sentiment")               # labels negative, neutral, positive: cardiffnlp's order
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():                            # the same scores for every text: positive > neutral > negative
        model.classifier.out_proj.weight.zero_()
        model.classifier.out_proj.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    reviews = datasets.Dataset.from_dict({"text": ["a moving, funny film", "dull and far too long"]})

    # the book's pipeline; the task is named because offline it cannot be read from the model's Hub card
    with warnings.catch_warnings(record=True) as caught, transformers_warnings() as messages:
        warnings.simplefilter("always")
        book = pipeline("text-classification", model=model, tokenizer=tokenizer, return_all_scores=True)
        outputs = list(book(KeyDataset(reviews, "text")))
    assert not [m for m in [str(w.message) for w in caught] + messages if "return_all_scores" in m]   # not a word
    assert outputs == [{"label": "positive", "score": pytest.approx(np.exp(2) / np.exp([0, 1, 2]).sum())}] * 2
    with pytest.raises(KeyError):
        [(output[0]["score"], output[2]["score"]) for output in outputs]       # the book's loop

    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)
    outputs = list(classifier(KeyDataset(reviews, "text")))
    assert [[score["label"] for score in output] for output in outputs] == [["positive", "neutral", "negative"]] * 2
    scores = function("ch04", "scores_by_label", {"np": np})(outputs, model.config.id2label)   # the chapter's
    np.testing.assert_allclose(scores, [np.exp([0, 2]) / np.exp([0, 1, 2]).sum()] * 2, rtol=1e-5)


@pytest.fixture(scope="module")
def tiny_t5(tiny):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    folder = tiny("t5")
    return folder, AutoModelForSeq2SeqLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_row_04_flan_t5_answers_through_generate_as_the_text2text_pipeline_is_gone(tiny_t5):
    from transformers import pipeline

    from utils.batching import generate_batched
    folder, model, tokenizer = tiny_t5
    with pytest.raises(KeyError, match="text2text-generation"):
        pipeline("text2text-generation", model=str(folder))                   # the book's call
    prompt = value("ch04", "flan_prompt") + "a gripping, funny film"         # the chapter's question
    with torch.no_grad():
        out = model.generate(**tokenizer(prompt, return_tensors="pt"), max_new_tokens=5)
    assert 1 < out.shape[1] <= 6                                              # the decoder's start + at most 5
    answer = tokenizer.decode(out[0], skip_special_tokens=True)
    assert isinstance(answer, str) and "<pad>" not in answer
    assert generate_batched(model, tokenizer, [prompt, prompt + " indeed"], max_new_tokens=5, batch_size=2)[0] == answer


def test_row_05_bertopic_takes_flan_t5_through_seq2seqgeneration(tiny_t5):
    from bertopic.representation import TextGeneration
    from transformers import pipeline

    from utils.topics import Seq2SeqGeneration
    folder, model, tokenizer = tiny_t5
    with pytest.raises(KeyError, match="text2text-generation"):
        pipeline("text2text-generation", model=str(folder))
    prompt = value("ch05", "label_prompt")                                    # the chapter's (the book's) prompt
    with pytest.raises(ValueError, match="pipeline"):
        TextGeneration(model, prompt=prompt, doc_length=50, tokenizer="whitespace")   # the model is not a pipeline
    labeller = Seq2SeqGeneration(model, tokenizer, prompt=prompt, doc_length=50, doc_tokenizer="whitespace")
    filled = prompt.replace("[DOCUMENTS]", "- rockets reach orbit\n- the moon landing\n").replace(
        "[KEYWORDS]", "space, orbit, moon")
    answer = labeller.model(filled)         # what TextGeneration.extract_topics calls, as it would call a pipeline
    with torch.no_grad():
        out = model.generate(**tokenizer(filled, return_tensors="pt", truncation=True), max_new_tokens=20,
                             do_sample=False)
    assert answer == [{"generated_text": tokenizer.decode(out[0], skip_special_tokens=True).strip()}]


@pytest.fixture(scope="module")
def small_topic_model():
    """BERTopic on 60 made-up documents in three groups of words, with 2-D points as their reduced embeddings (one
    cloud per group) and k-means for the clusters: three topics, fitted in well under a second."""
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer
    rng = np.random.default_rng(0)
    groups = [["space", "orbit", "rocket", "moon", "launch"], ["bank", "loan", "money", "rate", "credit"],
              ["team", "goal", "match", "score", "league"]]
    documents = [" ".join(rng.choice(words, 8)) for words in groups for _ in range(20)]
    points = np.concatenate([rng.normal(loc=10 * g, size=(20, 2)) for g in range(len(groups))])
    model = BERTopic(umap_model=BaseDimensionalityReduction(), hdbscan_model=KMeans(3, n_init=3, random_state=0),
                     vectorizer_model=CountVectorizer())
    model.fit(documents, points)
    titles = [f"document {i}: {doc[:20]}" for i, doc in enumerate(documents)]
    return model, documents, titles, points


def parameters(fn):
    """The parameter names of a DataMapPlot function: its configuration wrapper shows (*args, **kwargs) and keeps the
    real signature in its closure."""
    import inspect
    kept = [c.cell_contents for c in fn.__closure__ or () if isinstance(c.cell_contents, inspect.Signature)]
    return set((kept or [inspect.signature(fn)])[0].parameters)


def test_row_06_datamapplots_options_go_in_datamap_kwds(small_topic_model, monkeypatch):
    import datamapplot
    from datamapplot.plot_rendering import render_plot
    model, _, titles, points = small_topic_model
    with pytest.raises(TypeError, match="label_font_size"):                   # the book's call
        model.visualize_document_datamap(titles, topics=list(range(2)), reduced_embeddings=points, width=1200,
                                         label_font_size=11, label_wrap_width=20, use_medoids=True)
    # DataMapPlot knows the three options: create_plot names two, the renderer it hands the rest to the third
    assert {"label_wrap_width", "use_medoids"} <= parameters(datamapplot.create_plot)
    assert "label_font_size" in parameters(render_plot)
    received = {}

    def create_plot(points, labels, **options):      # stands in for the renderer (whose import and JIT take ~40 s)
        received.update(options, points=points, labels=list(labels))
        return "the figure", "its axes"
    monkeypatch.setattr(datamapplot, "create_plot", create_plot)
    options = {"label_font_size": 11, "label_wrap_width": 20, "use_medoids": True}
    figure = model.visualize_document_datamap(titles, topics=list(range(2)), reduced_embeddings=points, width=1200,
                                              datamap_kwds=options)
    assert figure == "the figure" and {key: received[key] for key in options} == options
    assert received["points"] is points and received["figsize"] == (12, 7.5)
    shown = [label for label, topic in zip(received["labels"], model.topics_, strict=True) if topic in (0, 1)]
    assert "Unlabelled" not in shown and received["labels"].count("Unlabelled") == model.topics_.count(2)


def hover_texts(figure):
    return sorted(t for trace in figure.data if trace.hovertext is not None for t in trace.hovertext if t)


def test_row_07_visualize_documents_warns_from_pandas_and_the_chapters_filter_keeps_the_figure(small_topic_model):
    model, _, titles, points = small_topic_model
    with pytest.warns(pd.errors.SettingWithCopyWarning):                       # the book's call
        book = model.visualize_documents(titles, reduced_embeddings=points, width=1200, hide_annotations=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with warnings.catch_warnings():                                        # the chapter's
            warnings.simplefilter("ignore", pd.errors.SettingWithCopyWarning)
            figure = model.visualize_documents(titles, reduced_embeddings=points, width=1200, hide_annotations=True)
    assert not [w for w in caught if issubclass(w.category, pd.errors.SettingWithCopyWarning)]
    assert hover_texts(figure) == hover_texts(book) == sorted(titles)          # every document, once
    assert figure.layout.width == 1200


def test_row_08_a_datasets_column_is_not_a_list_until_list_makes_it_one(small_topic_model, monkeypatch):
    import datasets

    from utils import data
    model, documents, titles, points = small_topic_model
    rows = datasets.Dataset.from_dict({"Abstracts": documents, "Titles": titles})
    column = rows["Titles"]                                                   # the book's line
    assert not isinstance(column, list) and type(column).__name__ == "Column"
    assert column.index(titles[7]) == 7 and column[np.int64(7)] == titles[7]   # datasets 4.0.0 raised TypeError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.SettingWithCopyWarning)     # row 7
        figure = model.visualize_documents(column, reduced_embeddings=points, hide_annotations=True)
    assert hover_texts(figure) == sorted(titles)                               # ... where Colab's version fails
    rows = datasets.Dataset.from_dict({"Abstracts": ["about speech", "about topics", "about translation"],
                                       "Titles": ["ASR", "BERTopic", "NMT"]})
    # the chapter's loader, given these rows where it would load maartengr/arxiv_nlp from the Hub
    monkeypatch.setattr(data, "require_hub", lambda name, kind: name)
    monkeypatch.setattr(datasets, "load_dataset", lambda name: {"train": rows})
    abstracts, titles, labels = data.load_abstracts("maartengr/arxiv_nlp")
    assert type(abstracts) is list and type(titles) is list and labels is None
    assert titles == ["ASR", "BERTopic", "NMT"] and abstracts[2] == "about translation"


def test_row_09_gensim_4_4_runs_on_todays_numpy_and_scipy_that_lack_triu():
    import gensim
    import scipy
    from gensim.models import Word2Vec

    from utils.data import synthetic_playlists
    with pytest.raises(ImportError, match="triu"):
        from scipy.linalg import triu  # noqa: F401  (what gensim before 4.3.3 imports)
    assert int(np.__version__.split(".")[0]) >= 2 and tuple(map(int, scipy.__version__.split(".")[:2])) >= (1, 13)
    assert gensim.__version__.startswith("4.4")
    playlists, songs = synthetic_playlists(n_playlists=300, seed=0)
    model = Word2Vec(playlists, vector_size=16, window=20, negative=5, min_count=1, workers=1, seed=0)
    song = playlists[0][0]
    similar = model.wv.most_similar(positive=song, topn=5)                     # the book's call, one id as positive
    assert len(similar) == 5 and song not in [s for s, _ in similar]
    assert [score for _, score in similar] == sorted((score for _, score in similar), reverse=True)
    assert set(s for s, _ in similar) <= set(songs.index)
    pins = (ROOT / "requirements.txt").read_text() + (ROOT / "colab" / "requirements.txt").read_text()
    assert not re.search(r"^(numpy==1\.|scipy==1\.(\d|1[0-2])\.|gensim==4\.3\.[0-2])", pins, re.MULTILINE)
    assert not re.search(r"^(numpy|scipy)==", (ROOT / "colab" / "requirements.txt").read_text(), re.MULTILINE)


def test_row_10_training_arguments_has_no_logging_dir(tmp_path):
    from transformers import TrainingArguments
    book = dict(output_dir=str(tmp_path / "results"), num_train_epochs=3, per_device_train_batch_size=4,
                per_device_eval_batch_size=4, warmup_steps=500, weight_decay=0.01, logging_steps=10)
    with pytest.raises(TypeError, match="logging_dir"):
        TrainingArguments(**book, logging_dir=str(tmp_path / "logs"))         # the book's call
    args = TrainingArguments(**book)
    assert args.logging_steps == 10 and args.warmup_steps == 500 and args.report_to in ([], ["none"], "none")
    assert not (tmp_path / "logs").exists()


def test_row_11_get_sentence_embedding_dimension_is_renamed(tiny):
    from sentence_transformers import SentenceTransformer
    embedder = SentenceTransformer(str(tiny("bert")), device="cpu")          # a BERT with mean pooling, 32-d
    with pytest.warns(FutureWarning, match="get_embedding_dimension"):
        old = embedder.get_sentence_embedding_dimension()                     # the book's call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new = embedder.get_embedding_dimension()
    assert not [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    assert old == new == 32 == embedder.encode("Best movie ever!").shape[0]


def test_still_works_torch_dtype_auto_is_taken_without_a_word(tiny):
    from transformers import AutoModelForCausalLM
    folder = tiny("opt")
    with transformers_warnings() as messages:
        book = AutoModelForCausalLM.from_pretrained(folder, torch_dtype="auto")   # the book's keyword and value
    assert book.dtype == AutoModelForCausalLM.from_pretrained(folder, dtype="auto").dtype == torch.float32
    assert not [m for m in messages if "torch_dtype" in m], messages
    with transformers_warnings() as messages:       # another value under the old name is noticed
        half = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16 and any("`torch_dtype` is deprecated" in m for m in messages)


def test_still_works_bertopic_openai_takes_chat_true_and_asks_the_chat_api(small_topic_model, fake_openai):
    import openai
    from bertopic.representation import OpenAI
    model, documents, _, _ = small_topic_model
    model = deepcopy(model)
    fake_openai.reply = "topic: Space travel"
    labeller = OpenAI(openai.OpenAI(), model="gpt-3.5-turbo", exponential_backoff=True, chat=True,   # the book's call
                      prompt="Documents:\n[DOCUMENTS]\nKeywords: [KEYWORDS]\ntopic: <short topic label>")
    assert not hasattr(labeller, "chat")
    model.update_topics(documents, representation_model=labeller)
    assert {t: model.get_topic(t)[0][0] for t in range(3)} == {t: "Space travel" for t in range(3)}
    assert len(fake_openai.requests) == 3 and all("messages" in r for r in fake_openai.requests)
