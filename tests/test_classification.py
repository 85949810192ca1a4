"""Chapter 4's code on real (tiny or packaged) models: the book-profile paths that the offline run cannot reach (a
RoBERTa sentiment pipeline's labels read by name, seq2seq generate), the chapter's label-word scoring, its OpenAI
section against a local server (cached, bounded by its deadline) and the F1 bootstrap. The chapter's own functions
and cells are run, read from the notebook (tests/chapter_code.py)."""
import time

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from chapter_code import cell, function, value
from utils import cache, models, openai_api
from utils.batching import generate_batched, padded_batches
from utils.evaluation import bootstrap_f1, bootstrap_p, holm, weighted_f1


def scores_by_label():
    return function("ch04", "scores_by_label", {"np": np})


@pytest.mark.parametrize("labels", [("negative", "neutral", "positive"), ("positive", "negative", "neutral")])
def test_pipeline_scores_are_read_by_label_name_whatever_the_label_order(tiny, labels):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    folder = tiny("roberta-sentiment", labels=labels)
    texts = ["a moving, funny film", "dull and far too long", "it is a movie"]
    classifier = pipeline("text-classification", model=str(folder), tokenizer=str(folder), top_k=None)
    scores = scores_by_label()(classifier(texts), classifier.model.config.id2label)
    # baseline: the model's own softmax, read at the ids its config gives the two labels
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        probs = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits.softmax(-1).numpy()
    ids = [model.config.label2id["negative"], model.config.label2id["positive"]]
    np.testing.assert_allclose(scores, probs[:, ids], rtol=1e-5)


def test_a_model_without_the_labels_is_a_clear_error():
    with pytest.raises(ValueError, match="LABEL_0"):
        scores_by_label()([[{"label": "LABEL_0", "score": 1.0}]], {0: "LABEL_0", 1: "LABEL_1"})


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
    batched = generate_batched(model, tokenizer, prompts, max_new_tokens=4, batch_size=2)
    alone = generate_batched(model, tokenizer, prompts, max_new_tokens=4, batch_size=1)
    assert batched == alone and len(batched) == 3 and all(isinstance(a, str) for a in batched)
    # and each is what the plain call gives for that prompt on its own: the new tokens only, special tokens dropped
    for prompt, answer in zip(prompts, batched, strict=True):
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)[0]
        new = out if model.config.is_encoder_decoder else out[ids["input_ids"].shape[1]:]
        assert answer == tokenizer.decode(new, skip_special_tokens=True)


@pytest.fixture(scope="module")
def smollm():
    from transformers import AutoModelForCausalLM, AutoTokenizer
    source = models.from_pretrained_args("offline:smollm2-135m-instruct")
    return AutoModelForCausalLM.from_pretrained(**source).eval(), AutoTokenizer.from_pretrained(**source)


def chapter_scoring(model, tokenizer, batch_size):
    """The chapter's continuation_ids and label_word_scores, bound to `model` as the chapter's `llm`."""
    namespace = {"np": np, "torch": torch, "padded_batches": padded_batches, "llm": model, "llm_tokenizer": tokenizer,
                 "batch_size": batch_size}
    function("ch04", "continuation_ids", namespace)
    return function("ch04", "label_word_scores", namespace), namespace["continuation_ids"]


def test_label_word_scores_match_one_unpadded_forward_pass_each(smollm):
    model, tokenizer = smollm
    label_word_scores, continuation_ids = chapter_scoring(model, tokenizer, batch_size=3)
    prompts = ["Review: a joy from start to end. The review is", "Review: no. The review is",
               "Review: the worst film of the year, and the longest, with nothing to say at all. The review is"]
    scores = label_word_scores(prompts, ["negative", "positive"])
    ids = continuation_ids(tokenizer, prompts[0], ["negative", "positive"])
    for prompt, row in zip(prompts, scores, strict=True):
        with torch.no_grad():
            logits = model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1]
        np.testing.assert_allclose(row, torch.log_softmax(logits, -1)[ids].numpy(), atol=1e-4)


@pytest.mark.parametrize("asset, piece", [("offline:smollm2-135m-instruct", "Ġpositive"),
                                          ("offline:phi3-tokenizer", "▁positive")])
def test_label_words_are_read_as_they_continue_the_prompt(asset, piece):
    tokenizer = models.load_tokenizer(asset)
    [positive] = function("ch04", "continuation_ids")(tokenizer, "The review is", ["positive"])
    assert tokenizer.convert_ids_to_tokens(positive) == piece


def test_label_words_that_start_alike_are_refused(smollm):
    with pytest.raises(ValueError, match="same token"):
        function("ch04", "continuation_ids")(smollm[1], "The review is", ["positive review", "positive"])


def test_weighted_f1_on_a_case_worked_by_hand_and_against_sklearn():
    # truth 0 0 1 1, predicted 0 1 1 1: label 0 has F1 2/3 (tp 1, fn 1), label 1 has 4/5 (tp 2, fp 1), each with
    # support 2, so the weighted F1 is (2/3 + 4/5) / 2 = 11/15
    assert weighted_f1([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(11 / 15)
    assert weighted_f1([0, 0, 1, 1], [1, 1, 1, 1]) == pytest.approx(1 / 3)          # label 0 never predicted: F1 0
    np.testing.assert_allclose(weighted_f1([0, 0, 1, 1], [[0, 1, 1, 1], [0, 0, 1, 1]]), [11 / 15, 1.0])
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    assert weighted_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="weighted"))


def test_bootstrap_draws_are_paired_seeded_and_shrink_with_more_rows():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 1200)
    y_pred = np.where(rng.random(1200) < 0.75, y_true, 1 - y_true)       # right three times in four
    draws = bootstrap_f1(y_true, [y_pred, y_true, y_pred], n_resamples=400, seed=1)
    assert draws.shape == (400, 3) and (draws[:, 1] == 1).all()
    np.testing.assert_array_equal(draws[:, 0], draws[:, 2])             # paired: the same rows for each prediction
    np.testing.assert_array_equal(draws, bootstrap_f1(y_true, [y_pred, y_true, y_pred], n_resamples=400, seed=1))
    assert not np.array_equal(draws[:, 0], bootstrap_f1(y_true, [y_pred], n_resamples=400, seed=2)[:, 0])
    estimate = f1_score(y_true, y_pred, average="weighted")
    low, high = np.percentile(draws[:, 0], [2.5, 97.5])
    assert low < estimate < high and abs(draws[:, 0].mean() - estimate) < 0.01
    # a proportion's standard error is sqrt(p(1-p)/n): about 0.0125 for 1,200 rows, twice that for a quarter of them
    assert 0.008 < draws[:, 0].std() < 0.018
    quarter = bootstrap_f1(y_true[:300], [y_pred[:300]], n_resamples=400, seed=1)[:, 0]
    assert 1.5 < quarter.std() / draws[:, 0].std() < 2.7



def test_holm_matches_a_worked_example_and_refuses_what_is_not_a_p_value():
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> kept rising: 0.06
    adjusted, rejected = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(rejected) == [True, False, False, True]
    adjusted, rejected = holm([0.04])                       # one test: no correction
    assert adjusted == pytest.approx([0.04]) and rejected.all()
    assert holm([0.5, 0.9])[0] == pytest.approx([1.0, 1.0])   # capped at 1
    with pytest.raises(ValueError, match="between 0 and 1"):
        holm([0.2, 1.5])


def test_bootstrap_p_counts_the_resamples_beyond_zero():
    assert bootstrap_p(np.full(999, 0.02)) == pytest.approx(2 / 1000)       # all on one side: the least it gives
    assert bootstrap_p(np.r_[np.full(899, 0.02), np.full(100, -0.01)]) == pytest.approx(2 * 101 / 1000)
    assert bootstrap_p(np.zeros(50)) == 1.0                                 # identical predictions: no evidence
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_p([])

# the OpenAI section against a local server ---------------------------------------------------------------------------

def test_the_chapters_chatgpt_call_sends_the_books_prompt_and_maps_the_reply(fake_openai):
    chapter = {"openai_model": "gpt-3.5-turbo-0125"}
    exec(cell("ch04", "def chatgpt_generation("), chapter)          # the chapter's own function, not a copy
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


@pytest.fixture
def openai_section(monkeypatch, tmp_path):
    """run(deadline_s) executes the chapter's OpenAI cell, as it stands in the notebook, on three test reviews, with
    its own evaluate_performance; returns (what it printed, the chapter's namespace, its wall time). Replies are
    cached under tmp_path."""
    import contextlib
    import io

    import datasets
    import openai
    from sklearn.metrics import accuracy_score, classification_report

    from utils.notebook import progress
    monkeypatch.setattr(cache, "FOLDER", tmp_path)
    reviews = datasets.Dataset.from_dict({"text": ["a fine film", "a dull film", "a moving film"], "label": [1, 0, 1]})

    def run(deadline_s=600):
        chapter = {"np": np, "openai": openai, "progress": progress, "openai_client": openai_api.openai_client,
                   "PaidSection": openai_api.PaidSection, "estimate": openai_api.estimate,
                   "explain": openai_api.explain, "classification_report": classification_report,
                   "f1_score": f1_score, "accuracy_score": accuracy_score, "BOOK_F1": value("ch04", "BOOK_F1"),
                   "TARGET_NAMES": value("ch04", "TARGET_NAMES"), "ladder": {}, "predictions": {}, "not_run": {},
                   "test": reviews, "generative_test": reviews, "generative_true": np.array(reviews["label"]),
                   "generative_rows": np.arange(3), "openai_model": "gpt-3.5-turbo-0125", "openai_timeout_s": 5.0,
                   "openai_max_retries": 2, "openai_deadline_s": deadline_s}
        function("ch04", "evaluate_performance", chapter)
        exec(cell("ch04", "def chatgpt_generation("), chapter)
        printed, start = io.StringIO(), time.perf_counter()
        with contextlib.redirect_stdout(printed):
            exec(cell("ch04", "PaidSection(client"), chapter)
        return printed.getvalue(), chapter, time.perf_counter() - start
    return run


def test_the_chapters_openai_section_shows_the_books_call_first_and_pays_once(fake_openai, openai_section):
    printed, chapter, _ = openai_section()
    assert [r["messages"][1]["content"].split("\n\n")[1] for r in fake_openai.requests] == \
        ["unpretentious , charming , quirky , original", "a fine film", "a dull film", "a moving film"]
    lines = printed.splitlines()
    assert lines[0].startswith("4 requests, about ") and "0 of them were answered before" in lines[0]
    assert lines[1] == "'unpretentious , charming , quirky , original' -> '1' (the book's reply: '1')"
    assert chapter["ladder"]["ChatGPT"]["n"] == 3 and "ChatGPT" not in chapter["not_run"]
    again, rerun, _ = openai_section()                       # a second run: every reply from the cache
    assert len(fake_openai.requests) == 4 and "4 of them were answered before" in again.splitlines()[0]
    assert "[cache] OpenAI replies: 0 paid for now" in again and "4 loaded from .cache/results/openai/" in again
    assert rerun["ladder"]["ChatGPT"] == chapter["ladder"]["ChatGPT"]


@pytest.mark.parametrize("retry_after", [30, 120])
def test_a_rate_limited_openai_section_stops_at_its_deadline_and_the_chapter_goes_on(fake_openai, openai_section,
                                                                                     retry_after):
    fake_openai.mode, fake_openai.retry_after = "limited", retry_after
    printed, chapter, seconds = openai_section(deadline_s=10)
    assert seconds < 3 and len(fake_openai.requests) == 1          # it did not sleep through the wait
    [stopped] = [line for line in printed.splitlines() if "OpenAI section stopped" in line]
    assert f"asked to wait {retry_after} s" in stopped and "the rest of the chapter runs on." in stopped
    assert "ChatGPT" not in chapter["ladder"] and chapter["not_run"]["ChatGPT"].startswith("stopped before any reply")
    assert "sk-test" not in printed
