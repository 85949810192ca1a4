"""The paid OpenAI client, made safe to run anywhere: a key, a deadline, a cache, one sentence for each failure.

A client only when OPENAI_API_KEY is set (in the environment, or in Colab's Secrets on Colab); a section's calls
bounded as a whole by a deadline besides each request's timeout; every reply cached as it arrives; and one plain
sentence for each way a call can fail, so the chapter goes on without it.

    client = openai_client(timeout_s=20)                    # None (and says why) without a key
    paid = PaidSection(client, deadline_s=600, max_retries=2)
    try:
        reply = paid.chat.completions.create(model=..., messages=...)    # as client.chat.completions.create
    except openai.OpenAIError as err:
        print(explain(err))
    print(paid.summary())

The key goes to the client and nowhere else: nothing here prints or stores it."""
import math
import os
import sys
import time
from types import SimpleNamespace

import openai
from openai.types.chat import ChatCompletion

from .cache import cached_json, stored

KEY = "OPENAI_API_KEY"
COLAB_STEPS = (f"On Colab: click the key icon (Secrets) in the left sidebar, add a secret named {KEY} with your "
               f"key as its value, switch on its 'Notebook access', then run this cell again")
# OpenAI's list prices, US dollars per million input and output tokens (the estimate names the model it prices)
PRICES = {"gpt-3.5-turbo-0125": (0.50, 1.50)}
# names that OpenAI points at a dated model (the book's chapter 5 asks for "gpt-3.5-turbo"), priced as that model
ALIASES = {"gpt-3.5-turbo": "gpt-3.5-turbo-0125"}
RETRIED = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)   # timeouts included


class DeadlineReached(openai.OpenAIError):
    """A section's deadline came before its calls were done, or a wait the API asked for would pass it."""


def colab_secret():
    """(key, None) from Colab's Secrets when this runs on Colab and the reader granted the notebook access;
    (None, why not) on Colab without it; (None, None) elsewhere."""
    if "google.colab" not in sys.modules:
        return None, None
    try:
        from google.colab import userdata
    except ImportError:
        return None, "this Colab runtime has no Secrets (google.colab.userdata)"
    reasons = {"SecretNotFoundError": f"Colab's Secrets hold no {KEY}",
               "NotebookAccessError": f"this notebook has not been granted access to the secret {KEY}",
               "TimeoutException": f"Colab did not hand over the secret {KEY} in time"}
    refusals = tuple(getattr(userdata, name) for name in reasons if hasattr(userdata, name))
    try:
        key = (userdata.get(KEY) or "").strip()
    except refusals as err:
        return None, reasons.get(type(err).__name__, f"Colab refused the secret {KEY}")
    return (key, None) if key else (None, f"the secret {KEY} in Colab's Secrets is empty")


def openai_client(timeout_s=20.0, max_retries=2):
    """An `openai.OpenAI` client with these limits (each request gives up after `timeout_s` seconds and is retried
    at most `max_retries` times by the library), or None with a printed reason when there is no key: neither
    OPENAI_API_KEY in the environment nor, on Colab, a secret of that name this notebook may read.
    OPENAI_BASE_URL, when set, points it at another OpenAI-compatible server."""
    key = os.environ.get(KEY, "").strip()
    if not key:
        key, refused = colab_secret()
        if refused:
            print(f"Skipped: {refused}, so the paid OpenAI section does not run. {COLAB_STEPS}; never type the "
                  f"key into a cell.")
            return None
    if not key:
        print(f"Skipped: {KEY} is not set in this environment, so the paid OpenAI section does not run. To run it, "
              f"set the variable before starting Jupyter (or in Colab's Secrets); never type the key into a cell.")
        return None
    return openai.OpenAI(api_key=key, timeout=timeout_s, max_retries=max_retries)


def explain(err):
    """One sentence for a failed OpenAI call: what happened and what to do; the rest of the chapter goes on."""
    if isinstance(err, DeadlineReached):
        return (f"OpenAI section stopped: {err}; the replies that arrived are kept in the cache (running the section "
                f"again pays only for the rest), and the rest of the chapter runs on.")
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


def estimate(prompts, model, output_tokens=1, already=0):
    """One sentence before a section's calls: about how many tokens the `prompts` (one text per request) and their
    replies (`output_tokens` each) are, at 4 characters a token (OpenAI's rule of thumb for English), what that
    costs at the model's list price (PRICES), and how many of the requests (`already`) were paid for before."""
    tokens_in = math.ceil(sum(len(prompt) for prompt in prompts) / 4)
    tokens_out = output_tokens * len(prompts)
    priced = ALIASES.get(model, model)
    price = PRICES.get(priced)
    named = model if priced == model else f"{priced} ({model} points to it)"
    cost = (f"about ${(tokens_in * price[0] + tokens_out * price[1]) / 1e6:.3f} at {named}'s list price "
            f"(${price[0]:.2f} / ${price[1]:.2f} per million input / output tokens)" if price else
            f"no list price is known here for {model}: see OpenAI's pricing page")
    return (f"{len(prompts):,} requests, about {tokens_in:,} input and {tokens_out:,} output tokens (4 characters a "
            f"token): {cost}; {already:,} of them were answered before and come from the cache at no cost.")


def _waited(err):
    """The seconds the API asked to wait before trying again (its Retry-After header), or None."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    for header, unit in (("retry-after-ms", 1000), ("retry-after", 1)):
        try:
            return float(headers[header]) / unit
        except (KeyError, ValueError):
            continue
    return None


class PaidSection:
    """The paid calls of one section, bounded as a whole. `chat.completions.create(**request)` works as on the
    client: a request paid for before is answered from the cache (.cache/results/openai/, keyed by the server and
    the whole request); any other is sent with the client's timeout, cut to the time left, retried at most
    `max_retries` times after what the API asks to wait (its Retry-After, else 0.5, 1, 2, ... s), and its reply is
    stored as soon as it arrives. When `deadline_s` seconds have passed since the section began, or a wait would
    pass them, it raises DeadlineReached instead."""

    def __init__(self, client, deadline_s, max_retries=2, folder=None):
        self.client, self.deadline_s, self.max_retries, self.folder = client, deadline_s, max_retries, folder
        self.start = time.monotonic()
        self.paid, self.loaded = [], []                       # the records of the replies, by where they came from
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def _key(self, request):
        return [str(self.client.base_url), request]

    def answered(self, **request):
        """Whether this request was paid for before (its reply is in the cache)."""
        return stored(self._key(request), "openai", self.folder) is not None

    def _left(self):
        return self.deadline_s - (time.monotonic() - self.start)

    def _ask(self, request):
        timeout = self.client.timeout if isinstance(self.client.timeout, (int, float)) else self.deadline_s
        for attempt in range(self.max_retries + 1):
            left = self._left()
            if left <= 0:
                raise DeadlineReached(f"its deadline of {self.deadline_s:g} s (openai_deadline_s) has passed")
            try:
                bounded = self.client.with_options(timeout=min(timeout, left), max_retries=0)
                return bounded.chat.completions.create(**request).to_dict()
            except RETRIED as err:
                if isinstance(err, openai.APITimeoutError) and left < timeout:
                    raise DeadlineReached(f"no reply before its deadline of {self.deadline_s:g} s "
                                          f"(openai_deadline_s)") from err
                if attempt == self.max_retries:
                    raise
                wait = _waited(err) or 0.5 * 2 ** attempt
                if wait >= self._left():
                    raise DeadlineReached(f"the API asked to wait {wait:g} s before trying again, which would pass "
                                          f"its deadline of {self.deadline_s:g} s (openai_deadline_s)") from err
                time.sleep(wait)

    def create(self, **request):
        """The reply to `request` (an openai ChatCompletion), from the cache or from the API."""
        found = cached_json(self._key(request), lambda: self._ask(request), "openai", self.folder)
        (self.loaded if found["loaded"] else self.paid).append(found)
        return ChatCompletion.model_validate(found["value"])

    def summary(self):
        """One line: the replies paid for now and those loaded from the cache, with what paying for them cost."""
        def cost(records):
            tokens = sum((r["value"].get("usage") or {}).get("total_tokens", 0) for r in records)
            return f"{tokens:,} tokens in {sum(r['seconds'] for r in records):.1f} s"
        return (f"[cache] OpenAI replies: {len(self.paid):,} paid for now ({cost(self.paid)}), {len(self.loaded):,} "
                f"loaded from .cache/results/openai/ at no cost (paying for them took {cost(self.loaded)}); "
                f"{time.monotonic() - self.start:.1f} s of the section's {self.deadline_s:g} s used")
