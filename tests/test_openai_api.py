"""The paid OpenAI client made safe: no key, no client (and a reason); failures end in one sentence within a bounded
time, against a local server that answers as the API does."""
import time

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
