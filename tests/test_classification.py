"""Chapter 4's code on real (tiny or packaged) models: the book-profile paths that the offline run cannot reach (a
RoBERTa sentiment pipeline's labels read by name, seq2seq generate), the chapter's label-word scoring, its ChatGPT
call against a local server, the offline stand-in and the F1 bootstrap. The chapter's own functions are run, read
from the notebook (tests/chapter_code.py)."""
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from chapter_code import cell, function
from utils import models, openai_api, stand_ins
from utils.batching import generate_batched, padded_batches
from utils.evaluation import bootstrap_f1, weighted_f1


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
    for prompt, row in zip(prompts, scores):
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


def test_weighted_f1_and_its_bootstrap_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    y_pred[:150] = y_true[:150]
    assert weighted_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert weighted_f1(y_true, np.ones(300, int)) == pytest.approx(
        f1_score(y_true, np.ones(300, int), average="weighted", zero_division=0))
    draws = bootstrap_f1(y_true, [y_pred, y_true], n_resamples=200, seed=1)
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
    folder = stand_ins.sentiment_stand_in(train["text"], train["label"], seed=0, folder=tmp_path)
    again = stand_ins.sentiment_stand_in(train["text"], train["label"], seed=0, folder=tmp_path)
    assert again == folder and "not trained again" in capsys.readouterr().out
    other = stand_ins.sentiment_stand_in(train["text"][:200], train["label"][:200], seed=0, folder=tmp_path)
    assert other != folder
    classifier = pipeline("text-classification", model=str(folder), tokenizer=str(folder), top_k=None)
    held_out = reviews["validation"].select(range(200))
    scores = scores_by_label()(classifier(list(held_out["text"])), classifier.model.config.id2label)
    accuracy = (scores.argmax(1) == np.array(held_out["label"])).mean()
    assert accuracy > 0.58          # chance is 0.5 on this balanced split; 300 reviews give about 0.63


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
