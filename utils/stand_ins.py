"""Offline stand-ins for book models that no package ships, made once by the companion and kept on disk."""
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import assets
from .batching import by_length
from .cache import library_versions
from .models import model_path
from .notebook import progress
from .paths import COMPUTED

STAND_INS = COMPUTED / "stand-ins"
SENTIMENT_STAND_IN = "offline:minilm-sentiment-head"   # made by sentiment_stand_in() (assets.MADE_HERE)


def _folder_key(folder, *parts):
    """A sha256 of a folder's files and of `parts`, with the versions of the libraries that train the head."""
    h = hashlib.sha256()
    for file in sorted(Path(folder).iterdir()):
        if file.is_file():
            h.update(file.name.encode() + assets.sha256(file).encode())
    h.update(json.dumps([parts, library_versions(("torch", "transformers", "tokenizers", "scikit-learn"))]).encode())
    return h.hexdigest()[:16]


def sentiment_stand_in(texts, labels, seed=42, encoder="offline:all-minilm-l6-v2", folder=None):
    """A real two-label sentiment classifier, made once and kept under .cache/stand-ins/ (keyed by the encoder's
    files, the training texts and labels, the seed and the library versions); returns its folder, which
    `pipeline(...)` loads like a Hub model. It is the BERT encoder `encoder` (a model id or offline asset), frozen,
    with a classification head trained here: BERT's pooler is set to tanh of the [CLS] vector, and the head is a
    logistic regression (seeded) fitted on those vectors of the given training reviews. Labels: 0 "negative",
    1 "positive"."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer, BertForSequenceClassification
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
