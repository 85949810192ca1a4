"""Chapter 4's plumbing on real (tiny or packaged) models: the book-profile paths that the offline run cannot reach
(a RoBERTa sentiment pipeline's labels, seq2seq generate, the OpenAI call against a local server) and the offline
stand-in, the label-word scores, the F1 bootstrap and the embedding cache."""
import os
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from utils import classify, embeddings, models, openai_api, run
from utils.rehearse import tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Folders of tiny models built from configs: kind -> folder."""
    def build(kind, **options):
        folder = tmp_path_factory.mktemp(kind)
        tiny_model(kind, folder, **options)
        return folder
    return build


@pytest.mark.parametrize("labels", [("negative", "neutral", "positive"), ("positive", "negative", "neutral")])
def test_pipeline_scores_are_read_by_label_name_whatever_the_label_order(tiny, labels):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    folder = tiny("roberta-sentiment", labels=labels)
    texts = ["a moving, funny film", "dull and far too long", "it is a movie"]
    classifier = pipeline("text-classification", model=str(folder), tokenizer=str(folder), top_k=None)
    scores = classify.scores_by_label(classifier(texts), classifier.model.config.id2label)
    # baseline: the model's own softmax, read at the ids its config gives the two labels
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        probs = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits.softmax(-1).numpy()
    ids = [model.config.label2id["negative"], model.config.label2id["positive"]]
    np.testing.assert_allclose(scores, probs[:, ids], rtol=1e-5)


def test_a_model_without_the_labels_is_a_clear_error():
    with pytest.raises(ValueError, match="LABEL_0"):
        classify.scores_by_label([[{"label": "LABEL_0", "score": 1.0}]], {0: "LABEL_0", 1: "LABEL_1"})


@pytest.mark.parametrize("kind", ["t5", "opt"])
def test_batched_generate_gives_each_prompt_its_own_answer(tiny, kind):
    """Batches (sorted by length, padded) must give what generating each prompt alone gives."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    folder = tiny(kind)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = (AutoModelForSeq2SeqLM if kind == "t5" else AutoModelForCausalLM).from_pretrained(folder).eval()
    prompts = ["Is the following sentence positive or negative? a fine film",
               "Is the following sentence positive or negative? the plot is thin, the acting is worse, and it goes on",
               "Is the following sentence positive or negative? yes"]
    batched = classify.generate_batched(model, tokenizer, prompts, max_new_tokens=4, batch_size=2)
    alone = classify.generate_batched(model, tokenizer, prompts, max_new_tokens=4, batch_size=1)
    assert batched == alone and len(batched) == 3 and all(isinstance(a, str) for a in batched)
    # and each is what the plain call gives for that prompt on its own: the new tokens only, special tokens dropped
    for prompt, answer in zip(prompts, batched):
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)[0]
        new = out if model.config.is_encoder_decoder else out[ids["input_ids"].shape[1]:]
        assert answer == tokenizer.decode(new, skip_special_tokens=True)


@pytest.fixture(scope="module")
def smollm():
    from transformers import AutoModelForCausalLM, AutoTokenizer
    source = models.from_pretrained_args("offline:smollm2-135m-instruct")
    return AutoModelForCausalLM.from_pretrained(**source).eval(), AutoTokenizer.from_pretrained(**source)


def test_label_word_scores_match_one_unpadded_forward_pass_each(smollm):
    model, tokenizer = smollm
    prompts = ["Review: a joy from start to end. The review is", "Review: no. The review is",
               "Review: the worst film of the year, and the longest, with nothing to say at all. The review is"]
    scores = classify.label_word_scores(model, tokenizer, prompts, ["negative", "positive"], batch_size=3)
    ids = classify.continuation_ids(tokenizer, prompts[0], ["negative", "positive"])
    for prompt, row in zip(prompts, scores):
        with torch.no_grad():
            logits = model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1]
        np.testing.assert_allclose(row, torch.log_softmax(logits, -1)[ids].numpy(), atol=1e-4)


@pytest.mark.parametrize("asset, piece", [("offline:smollm2-135m-instruct", "Ġpositive"),
                                          ("offline:phi3-tokenizer", "▁positive")])
def test_label_words_are_read_as_they_continue_the_prompt(asset, piece):
    tokenizer = models.load_tokenizer(asset)
    [positive] = classify.continuation_ids(tokenizer, "The review is", ["positive"])
    assert tokenizer.convert_ids_to_tokens(positive) == piece


def test_label_words_that_start_alike_are_refused(smollm):
    with pytest.raises(ValueError, match="same token"):
        classify.continuation_ids(smollm[1], "The review is", ["positive review", "positive"])


def test_weighted_f1_and_its_bootstrap_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    y_pred[:150] = y_true[:150]
    assert classify.weighted_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert classify.weighted_f1(y_true, np.ones(300, int)) == pytest.approx(
        f1_score(y_true, np.ones(300, int), average="weighted", zero_division=0))
    draws = classify.bootstrap_f1(y_true, [y_pred, y_true], n_resamples=200, seed=1)
    rows = np.random.default_rng(1).integers(0, 300, size=(200, 300))[7]
    assert draws[7, 0] == pytest.approx(f1_score(y_true[rows], y_pred[rows], average="weighted"))
    assert (draws[:, 1] == 1).all()
    low, high = np.percentile(draws[:, 0], [2.5, 97.5])
    assert low < f1_score(y_true, y_pred, average="weighted") < high


def test_the_stand_in_is_a_real_classifier_made_once(tmp_path, capsys):
    from transformers import pipeline

    from utils.data import load_movie_reviews
    reviews = load_movie_reviews("offline:rotten-tomatoes-snippets")
    train = reviews["train"].shuffle(seed=0).select(range(300))
    folder = classify.sentiment_stand_in(train["text"], train["label"], seed=0, folder=tmp_path)
    again = classify.sentiment_stand_in(train["text"], train["label"], seed=0, folder=tmp_path)
    assert again == folder and "not trained again" in capsys.readouterr().out
    other = classify.sentiment_stand_in(train["text"][:200], train["label"][:200], seed=0, folder=tmp_path)
    assert other != folder
    classifier = pipeline("text-classification", model=str(folder), tokenizer=str(folder), top_k=None)
    held_out = reviews["validation"].select(range(200))
    scores = classify.scores_by_label(classifier(list(held_out["text"])), classifier.model.config.id2label)
    accuracy = (scores.argmax(1) == np.array(held_out["label"])).mean()
    assert accuracy > 0.58          # chance is 0.5 on this balanced split; 300 reviews give about 0.63


def test_progress_is_one_line_when_headless_and_a_bar_for_a_reader(monkeypatch, capsys):
    monkeypatch.setenv("HOLLM_HEADLESS", "1")
    assert list(run.progress(range(3), "work", unit="steps")) == [0, 1, 2]
    assert capsys.readouterr().out.startswith("[progress] work: 3 steps in ")
    # a reader's kernel has neither HOLLM_HEADLESS nor the TQDM_DISABLE that headless kernels (and this test process)
    # set, and tqdm reads the latter when it is imported: so a fresh interpreter with a reader's environment
    reader = {k: v for k, v in os.environ.items() if k not in run.HEADLESS}
    code = "from utils import run; print(list(run.progress(range(3), 'work')))"
    done = subprocess.run([sys.executable, "-c", code], env=reader, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[0, 1, 2]" and "work: 3 batches" not in done.stdout and "3/3" in done.stderr


def test_a_first_run_and_a_cached_run_compare_equal_under_the_sanitizer(embedder, tmp_path, monkeypatch, capsys):
    """nbval replays recordings on a fresh clone (nothing cached) and on a developer's machine (all cached): the
    sanitizer must make the two outputs of a cell equal, and keep a real difference visible."""
    import re

    from nbval.plugin import get_sanitize_patterns
    patterns = get_sanitize_patterns((run.ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    assert any("cache" in regex for regex, _ in patterns)

    def sanitize(text):
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text
    monkeypatch.setenv("HOLLM_HEADLESS", "1")

    def cell(texts):
        def encode(batch):
            return np.stack([embedder.encode(t) for t in run.progress(batch, "encoding", unit="texts")])
        vectors = embeddings.cached_encode(embedder, texts, encode, folder=tmp_path)
        print("shape:", vectors.shape)
        return capsys.readouterr().out
    first, cached = cell(["a fine film", "a dull film"]), cell(["a fine film", "a dull film"])
    assert first != cached and sanitize(first) == sanitize(cached) == "[cache or progress]\nshape: (2, 384)\n"
    assert sanitize(cell(["a fine film"])) != sanitize(cached)


def test_output_folder_refuses_chapters_and_defaults_to_build(tmp_path):
    assert run.output_folder(None, "ch99_x") == run.ROOT / "build" / "ch99_x"
    assert run.output_folder(str(tmp_path / "out"), "ch99_x") == tmp_path / "out"
    with pytest.raises(ValueError, match="inside chapters"):
        run.output_folder(str(run.CHAPTERS / "figures"), "ch99_x")


# the embedding cache ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def embedder():
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(models.model_path("offline:all-minilm-l6-v2"), device="cpu")


def test_cached_embeddings_are_the_computed_ones_and_are_not_computed_again(embedder, tmp_path):
    texts, calls = ["a fine film", "a dull film"], []

    def encode(batch):
        calls.append(batch)
        return embedder.encode(batch)
    first = embeddings.cached_encode(embedder, texts, encode, folder=tmp_path)
    second = embeddings.cached_encode(embedder, texts, encode, folder=tmp_path)
    assert len(calls) == 1 and np.array_equal(first, second)
    np.testing.assert_array_equal(second, embedder.encode(texts))
    embeddings.cached_encode(embedder, texts[::-1], encode, folder=tmp_path)       # other texts: computed
    embeddings.cached_encode(embedder, texts, encode, what="other", folder=tmp_path)
    assert len(calls) == 3


def test_a_damaged_or_partial_cache_file_is_rebuilt_not_used(embedder, tmp_path, capsys):
    texts = ["a fine film", "a dull film"]
    good = embeddings.cached_encode(embedder, texts, embedder.encode, folder=tmp_path)
    [array_file] = tmp_path.glob("*.npy")
    array_file.write_bytes(array_file.read_bytes()[:-100])                          # cut short
    again = embeddings.cached_encode(embedder, texts, embedder.encode, folder=tmp_path)
    assert "computing them again" in capsys.readouterr().out and np.array_equal(good, again)
    flipped = bytearray(array_file.read_bytes())
    flipped[-1] ^= 0xFF                                                              # same size, one value changed
    array_file.write_bytes(bytes(flipped))
    assert np.array_equal(embeddings.cached_encode(embedder, texts, embedder.encode, folder=tmp_path), good)
    assert "does not match its record" in capsys.readouterr().out
    [record_file] = tmp_path.glob("*.json")
    for record in ("{}", "[1, 2]", "not json"):                                      # a record that says nothing
        record_file.write_text(record)
        assert np.array_equal(embeddings.cached_encode(embedder, texts, embedder.encode, folder=tmp_path), good)
        assert "are unreadable" in capsys.readouterr().out


def test_another_model_behind_the_same_name_gets_its_own_cache(embedder, tmp_path):
    before = embeddings.fingerprint(embedder)
    weight = embedder[0].auto_model.encoder.layer[3].output.dense.weight
    kept = weight.detach().clone()
    with torch.no_grad():
        weight[0, 0] += 1.0
    try:
        assert embeddings.fingerprint(embedder) != before
    finally:
        with torch.no_grad():
            weight.copy_(kept)
    assert embeddings.fingerprint(embedder) == before


# the OpenAI section against a local server ---------------------------------------------------------------------------

def _ask(client):
    reply = client.chat.completions.create(model="gpt-3.5-turbo-0125", temperature=0,
                                           messages=[{"role": "user", "content": "a fine film"}])
    return reply.choices[0].message.content


def test_without_a_key_the_section_is_skipped_with_a_reason(monkeypatch, capsys):
    monkeypatch.delenv(openai_api.KEY, raising=False)
    assert openai_api.openai_client() is None
    assert "Skipped: OPENAI_API_KEY is not set" in capsys.readouterr().out


def _chapter_cell(defining):
    """The source of the chapter 4 cell that defines the function `defining`."""
    chapter = nbformat.read(run.CHAPTERS / "ch04_text_classification.ipynb", as_version=4)
    [cell] = [c for c in chapter.cells if c.cell_type == "code" and f"def {defining}(" in c.source]
    return cell.source


def test_the_chapters_chatgpt_call_sends_the_books_prompt_and_maps_the_reply(fake_openai):
    chapter = {"openai_model": "gpt-3.5-turbo-0125"}
    exec(_chapter_cell("chatgpt_generation"), chapter)          # the chapter's own function, not a copy
    client = openai_api.openai_client(timeout_s=5, max_retries=0)
    review = "unpretentious , charming , quirky , original"
    reply = chapter["chatgpt_generation"](client, review)
    assert reply == "1" and chapter["reply_label"](reply) == 1
    [request] = fake_openai.requests
    assert request["model"] == "gpt-3.5-turbo-0125" and request["temperature"] == 0
    system, user = request["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    assert user["role"] == "user" and "[DOCUMENT]" not in user["content"]
    assert user["content"].startswith("Predict whether the following document is a positive or negative movie "
                                      f"review:\n\n{review}\n\nIf it is positive return 1")
    fake_openai.reply = "The review is positive."          # anything but "1" is the book's 0
    assert chapter["reply_label"](chapter["chatgpt_generation"](client, review)) == 0
    assert chapter["reply_label"](" 1\n") == 1 and chapter["reply_label"](None) == 0


@pytest.mark.parametrize("mode, retries, text", [("refused", 2, "refused the key"), ("limited", 1, "rate limit"),
                                                 ("silent", 1, "no answer within the timeout")])
def test_failures_end_in_one_sentence_within_a_bounded_time(fake_openai, mode, retries, text, capsys):
    import openai
    fake_openai.mode = mode
    client = openai_api.openai_client(timeout_s=0.5, max_retries=retries)
    start = time.perf_counter()
    with pytest.raises(openai.OpenAIError) as caught:
        _ask(client)
    assert time.perf_counter() - start < 10
    message = openai_api.explain(caught.value)
    assert text in message and "sk-test" not in message
    # a refused key is not retried; rate limits and timeouts are, as often as asked
    assert len(fake_openai.requests) == (1 if mode == "refused" else retries + 1)
