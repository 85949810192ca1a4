"""Chapter 4's plumbing: the offline stand-in for the book's sentiment model, reading a pipeline's scores by label
name, and batched generation and label-word scoring with a language model."""
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import assets

STAND_INS = assets.COMPUTED / "stand-ins"
SENTIMENT_STAND_IN = "offline:minilm-sentiment-head"   # made by sentiment_stand_in(), not a catalogue asset
GENERATED = {SENTIMENT_STAND_IN}


def by_length(tokenizer, texts, batch_size):
    """Batches of indices into `texts`, the texts in each batch of similar token length (less padding, less
    work); each index appears once, so results can be put back in the original order."""
    lengths = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _folder_key(folder, *parts):
    h = hashlib.sha256()
    for file in sorted(Path(folder).iterdir()):
        if file.is_file():
            h.update(file.name.encode() + assets.sha256(file).encode())
    h.update(json.dumps(parts).encode())
    return h.hexdigest()[:16]


def sentiment_stand_in(texts, labels, seed=42, encoder="offline:all-minilm-l6-v2", folder=None):
    """A real two-label sentiment classifier, made once and kept under .cache/stand-ins/ (keyed by the encoder's
    files, the training texts and labels and the seed); returns its folder, which `pipeline(...)` loads like a Hub
    model. It is the BERT encoder `encoder` (a model id or offline asset), frozen, with a classification head
    trained here: BERT's pooler is set to tanh of the [CLS] vector, and the head is a logistic regression (seeded)
    fitted on those vectors of the given training reviews. Labels: 0 "negative", 1 "positive"."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer, BertForSequenceClassification

    from .models import model_path
    from .run import progress
    encoder_folder = model_path(encoder)
    texts, labels = list(texts), [int(y) for y in labels]
    key = _folder_key(encoder_folder, hashlib.sha256("\n".join(texts).encode()).hexdigest(), labels, seed)
    target = Path(folder or STAND_INS) / f"sentiment-head-{key}"
    if (target / "config.json").exists():
        print(f"[cache] stand-in loaded from the cache ({target.parent.name}/{target.name}), not trained again")
        return target
    tokenizer = AutoTokenizer.from_pretrained(encoder_folder)
    encoder = AutoModel.from_pretrained(encoder_folder).eval()
    cls = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for rows in progress(by_length(tokenizer, texts, 64), "[CLS] vectors of the training reviews"):
            batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=128,
                              return_tensors="pt")
            cls[rows] = torch.tanh(encoder(**batch).last_hidden_state[:, 0]).numpy()
    head = LogisticRegression(max_iter=2000, random_state=seed).fit(cls, labels)
    config = encoder.config
    config.architectures = ["BertForSequenceClassification"]
    config.id2label, config.label2id = {0: "negative", 1: "positive"}, {"negative": 0, "positive": 1}
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(encoder.state_dict(), strict=False)         # the pooler is set below
    hidden = config.hidden_size
    with torch.no_grad():
        model.bert.pooler.dense.weight.copy_(torch.eye(hidden))
        model.bert.pooler.dense.bias.zero_()
        weight = torch.tensor(head.coef_[0], dtype=torch.float32) / 2     # softmax of (-z/2, z/2) = LR's sigmoid
        model.classifier.weight.copy_(torch.stack([-weight, weight]))
        bias = float(head.intercept_[0]) / 2
        model.classifier.bias.copy_(torch.tensor([-bias, bias]))
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".making-", dir=target.parent))
    try:
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        scratch.rename(target)                     # appears whole or not at all
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"[cache] stand-in trained on {len(texts):,} reviews and saved to {target.parent.name}/{target.name}")
    return target


def scores_by_label(outputs, id2label, names=("negative", "positive")):
    """The scores of the labels `names` (case-insensitive) from a text-classification pipeline's output for each
    text (all labels, as `top_k=None` gives them: sorted by score, not by label id), as an array n x len(names).
    The names are checked against the model's `config.id2label` first, never assumed to sit at fixed positions."""
    known = {str(label).lower(): label for label in id2label.values()}
    missing = [name for name in names if name.lower() not in known]
    if missing:
        raise ValueError(f"the model has no label {missing} (its labels: {sorted(id2label.values())}); "
                         f"pass the names of its negative and positive labels")
    wanted = [known[name.lower()] for name in names]
    return np.array([[next(s["score"] for s in scores if s["label"] == label) for label in wanted]
                     for scores in outputs])


def generate_batched(model, tokenizer, prompts, max_new_tokens=5, batch_size=16, desc="generating"):
    """`model.generate` (greedy) over the prompts in batches, with a progress bar; the new text of each prompt.
    Works for encoder-decoders (Flan-T5) and decoder-only models (left padding, prompt tokens cut off)."""
    import torch

    from .run import progress
    decoder_only = not model.config.is_encoder_decoder
    if decoder_only:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    answers = [None] * len(prompts)
    for rows in progress(by_length(tokenizer, prompts, batch_size), desc):
        batch = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(model.device)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[:, batch["input_ids"].shape[1]:] if decoder_only else out
        for i, text in zip(rows, tokenizer.batch_decode(new, skip_special_tokens=True)):
            answers[i] = text
    return answers


def continuation_ids(tokenizer, prompt, words):
    """The token id with which each word (after a space) continues `prompt`: the first token where the tokens of
    `prompt + " " + word` part from those of the prompt. Read in context, so it is right for byte-level BPE (GPT-2,
    SmolLM2: "Ġpositive") and SentencePiece (Llama, Phi-3: "▁positive") alike. Words that would start with the same
    token cannot be told apart and are refused."""
    base = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = []
    for word in words:
        full = tokenizer(prompt + " " + word, add_special_tokens=False)["input_ids"]
        if full[:len(base)] != base or len(full) == len(base):
            raise ValueError(f"{word!r} does not continue the prompt as separate tokens; end the prompt before it")
        ids.append(full[len(base)])
    if len(set(ids)) < len(ids):
        raise ValueError(f"the words {words} start with the same token; choose words that differ at the start")
    return ids


def label_word_scores(model, tokenizer, prompts, words, batch_size=16, desc="scoring the label words"):
    """For each prompt, the model's next-token log-probabilities of each word of `words` as the continuation of the
    prompt (n x len(words); `continuation_ids`): which label the model would give, read off one forward pass
    instead of parsing free text."""
    import torch

    from .run import progress
    ids = continuation_ids(tokenizer, prompts[0], words)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    scores = np.zeros((len(prompts), len(words)), dtype=np.float32)
    for rows in progress(by_length(tokenizer, prompts, batch_size), desc):
        batch = tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(model.device)
        positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)     # left padding moves no token
        with torch.no_grad():
            logits = model(**batch, position_ids=positions).logits[:, -1].float()
        scores[rows] = torch.log_softmax(logits, dim=-1)[:, ids].cpu().numpy()
    return scores


def weighted_f1(y_true, y_pred):
    """The weighted F1 of two-label predictions (0/1) along the last axis: what sklearn's
    `f1_score(average="weighted")` gives, for many rows of predictions at once."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    total = 0
    for label in (0, 1):
        tp = ((y_pred == label) & (y_true == label)).sum(-1)
        fp = ((y_pred == label) & (y_true != label)).sum(-1)
        fn = ((y_pred != label) & (y_true == label)).sum(-1)
        support = (y_true == label).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        total = total + f1 * support
    return total / y_true.shape[-1]


def bootstrap_f1(y_true, predictions, n_resamples=1000, seed=42):
    """Weighted F1 of each of `predictions` (arrays of 0/1 for the same rows as `y_true`) on `n_resamples` seeded
    resamples of the rows drawn with replacement, the same draws for every prediction (so that differences are
    paired): an array n_resamples x len(predictions). Percentiles 2.5 and 97.5 of a column give its 95% interval."""
    y_true = np.asarray(y_true)
    draws = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    return np.stack([weighted_f1(y_true[draws], np.asarray(pred)[draws]) for pred in predictions], axis=1)
