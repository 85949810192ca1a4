"""The book-profile rehearsal: every id the chapters' defaults name has a stand-in of its kind, the throw-away caches
load through the libraries' normal calls with the Hub off and the network blocked, the reader's caches are not
touched, and a wrong default id fails its chapter, named."""
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from tools import rehearse, run

NOTEBOOKS = run.chapters()


def test_stand_ins_come_from_the_catalogue():
    standing = rehearse.stand_ins()
    assert standing["microsoft/Phi-3-mini-4k-instruct"] == "offline:smollm2-135m-instruct"   # the model wins
    assert standing["sentence-transformers/all-mpnet-base-v2"] == "offline:all-mpnet-base-v2"   # the real weights
    assert standing["microsoft/deberta-v3-xsmall"] == "offline:all-minilm-l6-v2"
    assert standing["gpt2"] == "offline:gpt2-tokenizer" and standing["rotten_tomatoes"].endswith("snippets")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_default_id_has_a_stand_in(path):
    kinds = rehearse.book_ids(path)
    assert kinds["model"] or kinds["tokenizer"]
    known = set(rehearse.stand_ins()) | set(rehearse.TINY) | {"yes_complete"}
    assert set().union(*(ids for kind, ids in kinds.items() if kind != "songs")) <= known


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("rehearsal")
    env, rows = rehearse.build(root, [run.CHAPTERS / "ch02_tokens_and_embeddings.ipynb"])
    return root, env, rows


def in_rehearsal(env, code):
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **run.OFFLINE_ENV, **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_book_ids_load_through_the_libraries_normal_calls(cache):
    root, env, rows = cache
    assert not [r for r in rows if r[2].startswith("none")], rows
    printed = in_rehearsal(env, "\n".join([
        "from transformers import AutoModel, AutoTokenizer",
        "from sentence_transformers import SentenceTransformer",
        "from datasets import load_dataset",
        "from utils.models import load_word_vectors, require_hub",
        "from utils.data import load_playlists",
        "print(AutoTokenizer.from_pretrained('microsoft/Phi-3-mini-4k-instruct').vocab_size)",
        "print(len(AutoTokenizer.from_pretrained('Xenova/gpt-4')))",
        "print(AutoTokenizer.from_pretrained('google/flan-t5-small').__class__.__name__)",
        "print(SentenceTransformer('sentence-transformers/all-mpnet-base-v2').encode(['a film']).shape)",
        "print(AutoModel.from_pretrained('microsoft/deberta-v3-xsmall').config.model_type)",
        "print(load_word_vectors('glove-wiki-gigaword-50').most_similar('king', topn=1)[0][0])",
        "news = load_dataset(require_hub('fancyzhx/ag_news', 'dataset'), split='train')",
        "print(news.features['label'].names, news.column_names)",
        "playlists, songs = load_playlists('yes_complete')",
        "print(all(s in songs.index for s in ['2172', '842', '3822']))",
    ]))
    assert printed.split("\n")[:8] == ["49152", "100261", "T5Tokenizer", "(1, 768)", "bert", "prince",
                                       "['World', 'Sports', 'Business', 'Sci/Tech'] ['text', 'label']", "True"]


@pytest.mark.slow
def test_the_declared_offline_notes_are_what_the_libraries_write_with_the_hub_off(cache):
    _, env, _ = cache
    done = subprocess.run([sys.executable, "-c", "from datasets import load_dataset\n"
                           "from sentence_transformers import SentenceTransformer\n"
                           "load_dataset('fancyzhx/ag_news', split='train')\n"
                           "SentenceTransformer('sentence-transformers/all-mpnet-base-v2')"],
                          env={**os.environ, **run.OFFLINE_ENV, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    matched = [[why for pattern, why in rehearse.OFFLINE_NOTES if re.search(pattern, line)] for line in lines]
    assert all(matched), [line for line, whys in zip(lines, matched, strict=True) if not whys]
    assert {why for whys in matched for why in whys} == {why for _, why in rehearse.OFFLINE_NOTES}   # each one seen


def test_the_rehearsal_blocks_the_network_and_keeps_to_its_folder(cache):
    root, env, _ = cache
    printed = in_rehearsal(env, "\n".join([
        "import urllib.request",
        "try:\n    urllib.request.urlopen('http://93.184.215.14/', timeout=5)\nexcept OSError as err:\n    print(err)",
        "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)",
    ]))
    assert "the rehearsal blocks the network" in printed
    assert printed.splitlines()[-1].startswith(str(root))
    assert all(str(root) in value for key, value in env.items() if key != "PYTHONPATH")


@pytest.mark.notebook
def test_a_wrong_default_id_fails_its_chapter_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "chapters"
    (folder / "profiles" / "offline").mkdir(parents=True)
    chapter = nbformat.read(run.CHAPTERS / "ch03_inside_llms.ipynb", as_version=4)
    cell = next(c for c in chapter.cells if "parameters" in c.metadata.get("tags", []))
    assert '"microsoft/Phi-3-mini-4k-instruct"' in cell.source
    cell.source = cell.source.replace('"microsoft/Phi-3-mini-4k-instruct"', '"microsoft/Phi-3-mini-4k-instruc"')
    nbformat.write(chapter, folder / "ch03_inside_llms.ipynb")
    (folder / "profiles" / "offline" / "ch03_inside_llms.yaml").write_text(
        (run.PROFILES / "offline" / "ch03_inside_llms.yaml").read_text())
    monkeypatch.setattr(run, "CHAPTERS", folder)
    monkeypatch.setattr(run, "PROFILES", folder / "profiles")
    assert rehearse.main(["--out", str(tmp_path / "out")]) == 1
    row, = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "'microsoft/Phi-3-mini-4k-instruc' is a Hugging Face Hub model id" in row["failed"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| microsoft/Phi-3-mini-4k-instruc | model | none: stays missing |" in report
