"""The memory check's fixes fit the numbers: a dtype or a GPU is offered only where its memory would hold the
models; past the largest single GPU it says so and names a smaller model of the same family. Memory figures are
injected: no test depends on this machine."""
import pytest
import torch

from utils import memory
from utils.memory import NotEnoughMemory, check_memory

LLAMA2_70B = {"meta-llama/Llama-2-70b-hf": 68_976_648_192}
PHI3 = {"microsoft/Phi-3-mini-4k-instruct": 3_821_079_552}


def stopped(counts, device, dtype, free, bfloat16=True, monkeypatch=None):
    monkeypatch.setattr(memory, "cpu_has_bfloat16", lambda: bfloat16)
    with pytest.raises(NotEnoughMemory) as caught:
        check_memory(list(counts), device, dtype, free=free, counts=counts)
    return str(caught.value)


def test_a_70b_model_gets_no_t4_and_no_bfloat16_but_a_smaller_sibling(monkeypatch):
    message = stopped(LLAMA2_70B, "cpu", torch.float32, 12.7e9, monkeypatch=monkeypatch)
    assert "331.6 GB" in message                                   # the case: float32 on Colab's CPU
    assert "T4" not in message.split("no single GPU")[0] and "dtype='bfloat16'" not in message
    assert "no single GPU of these sizes holds it (166.0 GB at 16 bits with the margin)" in message
    assert ("a smaller model of the same family in the parameters cell: meta-llama/Llama-2-7b-hf instead of "
            "meta-llama/Llama-2-70b-hf (6.74B parameters, 32.9 GB with the margin: more than the 12.7 GB here too)"
            ) in message
    assert "offline profile" in message


def test_the_gpu_offered_is_the_smallest_that_holds_the_model(monkeypatch):
    thirteen = {"meta-llama/Llama-2-13b-chat-hf": 13_015_864_320}
    message = stopped(thirteen, "cuda", torch.float16, 15.0e9, monkeypatch=monkeypatch)   # a T4
    assert "a larger GPU with 40 GB or more for its 31.7 GB at 16 bits: an A100 (" in message
    assert "meta-llama/Llama-2-7b-chat-hf instead of meta-llama/Llama-2-13b-chat-hf" in message
    assert "16.7 GB with the margin: more than the 15.0 GB here too" in message


def test_a_sibling_that_fits_here_is_the_largest_that_does(monkeypatch):
    qwen = {"Qwen/Qwen2.5-14B-Instruct": 14_770_033_664}
    message = stopped(qwen, "cpu", torch.float32, 40e9, bfloat16=False, monkeypatch=monkeypatch)
    assert "Qwen/Qwen2.5-7B-Instruct instead of Qwen/Qwen2.5-14B-Instruct" in message and "fits here)" in message
    assert "dtype='bfloat16'" not in message                         # this CPU does not compute in it


def test_bfloat16_is_offered_only_when_half_the_weights_fit(monkeypatch):
    assert "dtype='bfloat16', which halves the weights to 9.7 GB" in stopped(PHI3, "cpu", torch.float32, 12.7e9,
                                                                             monkeypatch=monkeypatch)
    assert "bfloat16" not in stopped(PHI3, "cpu", torch.float32, 8e9, monkeypatch=monkeypatch)
    message = stopped(PHI3, "cpu", torch.float32, 8e9, monkeypatch=monkeypatch)
    assert "a GPU with 15 GB or more for its 9.7 GB at 16 bits: Colab's free T4" in message
    assert "a smaller model in the parameters cell" in message      # Phi-3-mini is its family's smallest


def test_a_model_in_no_family_gets_the_general_advice():
    ways = memory.fixes("cpu", torch.float32, False, {"someone/unknown-3b": 3e9}, 4e9)
    assert "a smaller model in the parameters cell" in ways and memory.OFFLINE_PROFILE in ways
