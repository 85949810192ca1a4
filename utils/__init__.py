"""What the chapters import: the plumbing every chapter needs, so that the lesson stays in the notebook.

    paths        where the companion keeps things (its root, .cache/, downloads)
    params       check_parameters: types and ranges, before anything loads
    devices      the device, its dtype, seeding
    memory       check_memory: do the models fit the device? (before any download)
    assets       the offline catalogue: files that PyPI packages ship, verified by sha256
    models       a Hub id or "offline:NAME" -> what from_pretrained, SentenceTransformer, gensim need
    data         the book's data sets (or their offline stand-ins) in the shape its code expects
    notebook     record key results, progress, headless runs, the output folder
    cache        embeddings, scores and answers computed once, keyed by inputs and library versions
    batching     a model over many texts in length-sorted, padded batches
    evaluation   weighted F1 and paired bootstrap intervals
    tokens       coloured tokens and the tokenizer comparison table (chapter 2)
    anatomy      reading a decoder LLM's weights whatever their layout, timing generate (chapter 3)
    topics       topic labels from language models for BERTopic (chapter 5)
    plots        word labels beside their points (adjustText); interactive figures as files in headless runs
    openai_api   the paid client: a key from the environment or Colab's Secrets, a deadline per section, replies
                 cached, one sentence per failure

The repository's own tooling (runner, rehearsal, doctor, Colab generator, installer) lives in tools/, which imports
utils; nothing here imports tools."""
