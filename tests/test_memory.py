"""The memory check before a model loads: parameters read from a configuration alone, RAM within a container's
limit, and a chapter that asks for more than the device has stops at once with the fixes. Memory figures are
injected: no test depends on this machine's RAM."""
import time

import pytest
import torch

from chapter_code import cell
from utils import memory
from utils.memory import NotEnoughMemory, check_memory

PHI3 = {"microsoft/Phi-3-mini-4k-instruct": 3_821_079_552}


def test_parameters_come_from_the_configuration_and_match_the_loaded_model():
    from transformers import AutoModelForCausalLM

    from utils.models import from_pretrained_args
    loaded = AutoModelForCausalLM.from_pretrained(**from_pretrained_args("offline:smollm2-135m-instruct"))
    assert memory.parameters("offline:smollm2-135m-instruct") == loaded.num_parameters() == 134_515_008


def test_a_phi3_configuration_counts_the_books_parameters(tmp_path):
    from transformers import Phi3Config
    Phi3Config(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
               num_attention_heads=32, architectures=["Phi3ForCausalLM"]).save_pretrained(tmp_path)
    start = time.perf_counter()
    assert memory.parameters(str(tmp_path)) == PHI3["microsoft/Phi-3-mini-4k-instruct"]   # the book's 3.8B
    assert time.perf_counter() - start < 10                                      # shapes only, nothing allocated


def test_a_model_bigger_than_the_free_memory_stops_naming_model_sizes_and_fixes(monkeypatch):
    monkeypatch.setattr(memory, "cpu_has_bfloat16", lambda: True)
    with pytest.raises(NotEnoughMemory) as caught:
        check_memory(list(PHI3), "cpu", torch.float32, free=12.7e9, counts=PHI3)    # Colab's CPU runtime
    message = str(caught.value)
    assert "microsoft/Phi-3-mini-4k-instruct 3.82B parameters x 4 bytes (float32) = 15.3 GB" in message
    assert "18.8 GB" in message and "12.7 GB free" in message and "Nothing has been downloaded" in message
    assert "T4 GPU" in message and "dtype='bfloat16'" in message and "smaller model" in message
    assert "offline profile" in message and "make lab-offline" in message


def test_bfloat16_is_offered_only_where_it_helps(monkeypatch):
    monkeypatch.setattr(memory, "cpu_has_bfloat16", lambda: False)
    with pytest.raises(NotEnoughMemory) as caught:
        check_memory(list(PHI3), "cpu", torch.float32, free=8e9, counts=PHI3)
    assert "bfloat16" not in str(caught.value)
    monkeypatch.setattr(memory, "cpu_has_bfloat16", lambda: True)
    with pytest.raises(NotEnoughMemory) as caught:
        check_memory(list(PHI3), "cpu", torch.bfloat16, free=8e9, counts=PHI3)      # already halved
    assert "dtype='bfloat16'" not in str(caught.value) and "(bfloat16) = 7.6 GB" in str(caught.value)


def test_it_fits_a_t4_in_half_precision_and_says_so(capsys):
    assert check_memory(list(PHI3), "cuda", torch.float16, free=15.0e9, counts=PHI3) == pytest.approx(9.67e9,
                                                                                                     rel=1e-3)
    assert capsys.readouterr().out.startswith("memory: microsoft/Phi-3-mini-4k-instruct 3.82B parameters")


def test_models_held_together_are_added_up():
    counts = {"a/x": 1_000_000_000, "b/y": 1_000_000_000}
    check_memory(["a/x"], "cpu", torch.float32, free=5.5e9, counts=counts, verbose=False)
    with pytest.raises(NotEnoughMemory, match="a/x 1.00B, b/y 1.00B parameters"):
        check_memory(["a/x", "b/y"], "cpu", torch.float32, free=5.5e9, counts=counts)


def test_offline_assets_pass_quietly_and_names_made_here_are_skipped(capsys):
    check_memory(["offline:smollm2-135m-instruct", "offline:synthetic-playlists", None], "cpu", torch.float32,
                 free=4e9)
    assert capsys.readouterr().out == ""


def test_a_containers_limit_counts_cgroup_v2_and_v1(tmp_path):
    none = tmp_path / "no-such-file"                                   # no /proc/self/cgroup: the root only
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("8589934592\n")
    (v2 / "memory.current").write_text("2147483648\n")
    assert memory.container_limit(v2, none) == 6 * 2 ** 30
    (v2 / "memory.max").write_text("max\n")                           # no limit
    assert memory.container_limit(v2, none) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(str(4 * 2 ** 30))
    (v1 / "memory.usage_in_bytes").write_text(str(2 ** 30))
    assert memory.container_limit(tmp_path / "v1", none) == 3 * 2 ** 30
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712")   # v1's "no limit"
    assert memory.container_limit(tmp_path / "v1", none) is None


def test_a_limit_on_the_group_of_the_process_itself_counts(tmp_path):
    """systemd-run or a host cgroup namespace: the limit sits on the process's own group, not at the root."""
    (tmp_path / "user.slice" / "run-1.scope").mkdir(parents=True)
    (tmp_path / "user.slice" / "run-1.scope" / "memory.max").write_text(str(4 * 10 ** 9))
    (tmp_path / "user.slice" / "run-1.scope" / "memory.current").write_text(str(10 ** 9))
    (tmp_path / "memory.max").write_text("max")
    (tmp_path / "memory.current").write_text(str(10 ** 9))
    own = tmp_path / "cgroup"
    own.write_text("0::/user.slice/run-1.scope\n")
    assert memory.container_limit(tmp_path, own) == 3 * 10 ** 9
    own.write_text("0::/\n")
    assert memory.container_limit(tmp_path, own) is None


def test_available_ram_is_the_smaller_of_the_machines_and_the_containers(tmp_path, monkeypatch):
    monkeypatch.setattr(memory.sys, "platform", "linux")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    own = tmp_path / "no-such-file"
    assert memory.available_ram(meminfo, cgroup, own) == 20_000_000 * 1024
    (cgroup / "memory.max").write_text(str(12 * 10 ** 9))
    (cgroup / "memory.current").write_text(str(2 * 10 ** 9))
    assert memory.available_ram(meminfo, cgroup, own) == 10 * 10 ** 9


def test_a_chapter_asked_for_more_than_the_free_memory_stops_in_its_device_cell(monkeypatch):
    """Chapter 1's own device cell, with this machine's free memory replaced by 1 GB: the offline SmolLM2 needs
    1.2 GB with the margin, so the chapter stops there, before any model loads."""
    monkeypatch.setattr(memory, "available", lambda device: (1.0e9, "the CPU with 1.0 GB of RAM available"))
    namespace = {"generation_model": "offline:smollm2-135m-instruct", "word_vectors": "offline:glove-6b-50d",
                 "device": "cpu", "dtype": None, "seed": 0, "max_new_tokens": 5, "cpu_threads": None}
    source = cell("ch01", "check_memory(")
    start = time.perf_counter()
    with pytest.raises(NotEnoughMemory, match=r"offline:smollm2-135m-instruct 0.13B parameters .* 1.0 GB of RAM"):
        exec(source, namespace)
    assert time.perf_counter() - start < 30 and "model" not in namespace
