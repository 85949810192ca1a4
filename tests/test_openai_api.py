"""The paid OpenAI client made safe: a key from the environment or Colab's Secrets (never shown), no key no client
(and a reason); a section's calls cached and bounded as a whole by a deadline; failures end in one sentence within a
bounded time, against a local server that answers as the API does."""
import sys
import time
import types

import pytest

from utils import openai_api


def _ask(client):
    reply = client.chat.completions.create(model="gpt-3.5-turbo-0125", temperature=0,
                                           messages=[{"role": "user", "content": "a fine film"}])
    return reply.choices[0].message.content


def test_without_a_key_the_section_is_skipped_with_a_reason(monkeypatch, capsys):
    monkeypatch.delenv(openai_api.KEY, raising=False)
    assert openai_api.openai_client() is None
    assert "Skipped: OPENAI_API_KEY is not set" in capsys.readouterr().out


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


# Colab's Secrets -----------------------------------------------------------------------------------------------------

@pytest.fixture
def colab(monkeypatch):
    """A stand-in `google.colab` with `userdata` as Colab has it: get(key) returns the secret, or raises
    SecretNotFoundError (no such secret) or NotebookAccessError (the reader did not grant this notebook access).
    Set `colab.secret` to a text, or to one of those two classes; `colab.asked` lists the keys asked for."""
    userdata = types.ModuleType("google.colab.userdata")

    class NotebookAccessError(Exception):
        def __init__(self, key):
            super().__init__(f"Notebook does not have access to secret {key}")

    class SecretNotFoundError(Exception):
        def __init__(self, key):
            super().__init__(f"Secret {key} does not exist.")

    def get(key):
        userdata.asked.append(key)
        if isinstance(userdata.secret, type):
            raise userdata.secret(key)
        return userdata.secret
    userdata.NotebookAccessError, userdata.SecretNotFoundError, userdata.get = NotebookAccessError, \
        SecretNotFoundError, get
    userdata.secret, userdata.asked = "sk-colab-secret-not-real", []
    module = types.ModuleType("google.colab")
    module.userdata = userdata
    monkeypatch.setitem(sys.modules, "google.colab", module)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)
    return userdata


def test_on_colab_a_granted_secret_counts_like_the_environment_variable(fake_openai, colab, monkeypatch, capsys):
    monkeypatch.delenv(openai_api.KEY)
    client = openai_api.openai_client(timeout_s=5, max_retries=0)
    assert _ask(client) == "1"
    assert fake_openai.keys == ["sk-colab-secret-not-real"] and colab.asked == [openai_api.KEY]
    assert "sk-colab" not in capsys.readouterr().out and "sk-colab" not in repr(client)


def test_the_environment_variable_comes_first_and_colab_is_not_asked(fake_openai, colab):
    _ask(openai_api.openai_client(timeout_s=5, max_retries=0))
    assert fake_openai.keys == ["sk-test-not-a-real-key"] and colab.asked == []


@pytest.mark.parametrize("refusal, reason", [("SecretNotFoundError", "Colab's Secrets hold no OPENAI_API_KEY"),
                                             ("NotebookAccessError", "has not been granted access"),
                                             ("", "is empty")])
def test_a_missing_or_denied_secret_skips_with_the_steps_on_colab(colab, monkeypatch, capsys, refusal, reason):
    monkeypatch.delenv(openai_api.KEY, raising=False)
    colab.secret = getattr(colab, refusal) if refusal else "  "
    assert openai_api.openai_client() is None
    printed = capsys.readouterr().out
    assert printed.startswith("Skipped: ") and reason in printed and printed.count("\n") == 1
    assert "key icon (Secrets)" in printed and "Notebook access" in printed


# a section bounded as a whole, its replies cached --------------------------------------------------------------------

def section(tmp_path, deadline_s=10, timeout_s=5, max_retries=2):
    return openai_api.PaidSection(openai_api.openai_client(timeout_s=timeout_s, max_retries=0), deadline_s=deadline_s,
                                  max_retries=max_retries, folder=tmp_path)


def test_replies_are_cached_as_they_arrive_and_a_second_run_pays_nothing(fake_openai, tmp_path):
    first = section(tmp_path)
    assert [_ask(first) for _ in range(2)] == ["1", "1"]
    assert len(fake_openai.requests) == 1                       # the same request twice: paid for once
    assert (len(first.paid), len(first.loaded)) == (1, 1)
    again = section(tmp_path)
    fake_openai.reply = "0"                                     # a new request would now get another answer
    assert _ask(again) == "1" and len(fake_openai.requests) == 1
    assert again.summary().startswith("[cache] OpenAI replies: 0 paid for now (0 tokens")
    assert "1 loaded from .cache/results/openai/ at no cost (paying for them took 51 tokens" in again.summary()
    assert not any("sk-test" in file.read_text() for file in tmp_path.rglob("*.json"))    # the key is never written


def test_an_interrupted_section_keeps_what_it_paid_for(fake_openai, tmp_path):
    import openai
    paid = section(tmp_path)
    documents = ["a fine film", "a dull film", "a long film"]

    def ask(client, document):
        return client.chat.completions.create(model="m", messages=[{"role": "user", "content": document}])
    ask(paid, documents[0]), ask(paid, documents[1])
    fake_openai.mode = "refused"                                # the key is revoked half-way
    with pytest.raises(openai.AuthenticationError):
        ask(paid, documents[2])
    fake_openai.mode = "ok"
    rerun = section(tmp_path)
    assert [rerun.answered(model="m", messages=[{"role": "user", "content": d}]) for d in documents] == \
        [True, True, False]
    for document in documents:
        ask(rerun, document)
    assert (len(rerun.loaded), len(rerun.paid), len(fake_openai.requests)) == (2, 1, 4)


@pytest.mark.parametrize("retry_after", [30, 120])
def test_a_wait_past_the_deadline_ends_the_section_at_once_in_one_sentence(fake_openai, tmp_path, retry_after):
    fake_openai.mode, fake_openai.retry_after = "limited", retry_after
    paid, start = section(tmp_path, deadline_s=10), time.perf_counter()
    with pytest.raises(openai_api.DeadlineReached) as caught:
        _ask(paid)
    assert time.perf_counter() - start < 3 and len(fake_openai.requests) == 1
    sentence = openai_api.explain(caught.value)
    assert f"the API asked to wait {retry_after} s before trying again, which would pass its deadline of 10 s" \
        in sentence and ". " not in sentence and sentence.endswith("the rest of the chapter runs on.")
    assert not list(tmp_path.rglob("*.json"))                  # nothing paid, nothing stored


def test_a_wait_within_the_deadline_is_waited_and_retried(fake_openai, tmp_path):
    fake_openai.mode, fake_openai.retry_after, fake_openai.limited_times = "limited", 1, 1
    paid, start = section(tmp_path, deadline_s=10), time.perf_counter()
    assert _ask(paid) == "1"
    assert 1 <= time.perf_counter() - start < 5 and len(fake_openai.requests) == 2


def test_the_retries_are_bounded_too(fake_openai, tmp_path):
    import openai
    fake_openai.mode = "limited"                                # retry-after-ms 10, for ever
    with pytest.raises(openai.RateLimitError):
        _ask(section(tmp_path, max_retries=2))
    assert len(fake_openai.requests) == 3


def test_a_silent_server_is_cut_off_at_the_deadline(fake_openai, tmp_path):
    fake_openai.mode = "silent"                                 # answers nothing for 3 s
    paid, start = section(tmp_path, deadline_s=1, timeout_s=20), time.perf_counter()
    with pytest.raises(openai_api.DeadlineReached, match="no reply before its deadline of 1 s"):
        _ask(paid)
    assert time.perf_counter() - start < 2.5


def test_past_the_deadline_nothing_more_is_sent(fake_openai, tmp_path):
    paid = section(tmp_path, deadline_s=0.2)
    time.sleep(0.3)
    with pytest.raises(openai_api.DeadlineReached, match="has passed"):
        _ask(paid)
    assert fake_openai.requests == []


def test_the_estimate_counts_four_characters_a_token_at_the_list_price():
    text = openai_api.estimate(["x" * 400] * 10, "gpt-3.5-turbo-0125", already=3)
    assert text.startswith("10 requests, about 1,000 input and 10 output tokens")
    assert "about $0.001 at gpt-3.5-turbo-0125's list price ($0.50 / $1.50 per million" in text   # 515 micro-dollars
    assert "3 of them were answered before" in text
    assert "no list price is known here for some-model" in openai_api.estimate(["x"], "some-model")


def test_an_alias_is_priced_as_the_dated_model_it_points_to():
    text = openai_api.estimate(["x" * 400] * 10, "gpt-3.5-turbo")
    assert text == openai_api.estimate(["x" * 400] * 10, "gpt-3.5-turbo-0125").replace(
        "gpt-3.5-turbo-0125's", "gpt-3.5-turbo-0125 (gpt-3.5-turbo points to it)'s")


def test_a_damaged_reply_file_is_asked_for_again(fake_openai, tmp_path):
    _ask(section(tmp_path))
    [stored] = tmp_path.rglob("*.json")
    stored.write_text("{not json")
    _ask(section(tmp_path))
    assert len(fake_openai.requests) == 2
