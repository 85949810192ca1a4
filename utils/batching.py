"""Run a model over many texts in length-sorted, padded batches, with progress.

Texts of similar length together (less padding), a progress bar, and the results put back in the texts' order."""
import numpy as np

from .notebook import progress


def by_length(tokenizer, texts, batch_size):
    """Batches of indices into `texts`, the texts in each batch of similar token length (less padding, less
    work); each index appears once, so results can be put back in the original order."""
    lengths = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def padded_batches(tokenizer, texts, batch_size, device, desc, left=True):
    """(rows, batch) for each batch of `by_length`: `rows` index `texts`, `batch` is the tokenized, padded tensors
    on `device`. Decoder-only models need `left` padding, so that every text ends where generation starts (the
    tokenizer's end-of-text token pads when it has no pad token)."""
    if left:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    for rows in progress(by_length(tokenizer, texts, batch_size), desc):
        yield rows, tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True).to(device)


def generate_batched(model, tokenizer, prompts, max_new_tokens=5, batch_size=16, desc="generating"):
    """`model.generate` (greedy) over the prompts in batches, with a progress bar; the new text of each prompt.
    Works for encoder-decoders (Flan-T5) and decoder-only models (left padding, prompt tokens cut off)."""
    import torch
    decoder_only = not model.config.is_encoder_decoder
    answers = [None] * len(prompts)
    for rows, batch in padded_batches(tokenizer, prompts, batch_size, model.device, desc, left=decoder_only):
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[:, batch["input_ids"].shape[1]:] if decoder_only else out
        for i, text in zip(rows, tokenizer.batch_decode(new, skip_special_tokens=True), strict=True):
            answers[i] = text
    return answers
