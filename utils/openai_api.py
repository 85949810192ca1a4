"""The paid OpenAI client, made safe to run anywhere.

A client only when OPENAI_API_KEY is set, explicit timeouts and retries, and one plain sentence for each way a call
can fail, so the chapter goes on without it.

    client = openai_client(timeout_s=20, max_retries=2)      # None (and says why) without a key
    try:
        ...client.chat.completions.create(...)...
    except openai.OpenAIError as err:
        print(explain(err))

The key is read from the environment by the openai library itself; nothing here prints or stores it."""
import os

KEY = "OPENAI_API_KEY"


def openai_client(timeout_s=20.0, max_retries=2):
    """An `openai.OpenAI` client with these limits (each request gives up after `timeout_s` seconds and is retried
    at most `max_retries` times, with the library's exponential backoff, on connection errors, rate limits and
    server errors), or None with a printed reason when OPENAI_API_KEY is not set. OPENAI_BASE_URL, when set,
    points it at another OpenAI-compatible server."""
    if not os.environ.get(KEY, "").strip():
        print(f"Skipped: {KEY} is not set in this environment, so the paid OpenAI section does not run. To run it, "
              f"set the variable before starting Jupyter (or in Colab's Secrets); never type the key into a cell.")
        return None
    import openai
    return openai.OpenAI(timeout=timeout_s, max_retries=max_retries)


def explain(err):
    """One sentence for a failed OpenAI call: what happened and what to do; the rest of the chapter goes on."""
    import openai
    causes = [
        (openai.AuthenticationError, f"the API refused the key in {KEY} (401): check or replace the key"),
        (openai.PermissionDeniedError, "the key may not use this model (403): pick another model or project"),
        (openai.NotFoundError, "the model does not exist or was retired (404): set another model name"),
        (openai.RateLimitError, "rate limit or quota reached (429) after the retries: wait, or check the billing"),
        (openai.APITimeoutError, "no answer within the timeout, after the retries: try again or raise the timeout"),
        (openai.APIConnectionError, "the API could not be reached (no network, proxy or firewall)"),
        (openai.APIStatusError, "the API answered with an error"),
    ]
    reason = next((text for kind, text in causes if isinstance(err, kind)), "the call failed")
    status = getattr(err, "status_code", None)
    return (f"OpenAI call failed: {reason}" + (f" [HTTP {status}]" if status else "") +
            f" ({type(err).__name__}). This section is skipped; the rest of the chapter runs on.")
