import re

import pytest
import torch

from utils.devices import DeviceNotAvailable, dtype_for, resolve_device, seed_everything


def fake_machine(monkeypatch, cuda, mps):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, chosen, available", [
    (True, True, "cuda", "cuda, mps, cpu"),
    (True, False, "cuda", "cuda, cpu"),
    (False, True, "mps", "mps, cpu"),
    (False, False, "cpu", "cpu"),
])
def test_auto_picks_the_first_present_and_says_so(monkeypatch, capsys, cuda, mps, chosen, available):
    fake_machine(monkeypatch, cuda, mps)
    assert resolve_device("auto") == chosen
    assert capsys.readouterr().out == f"device='auto' -> using {chosen!r} (available: {available})\n"
    assert resolve_device("auto", verbose=False) == chosen and capsys.readouterr().out == ""


def test_missing_cuda_fails_early_with_the_fix(monkeypatch):
    fake_machine(monkeypatch, cuda=False, mps=False)
    with pytest.raises(DeviceNotAvailable, match=r"device='cuda'.*only has: cpu\..*T4 GPU.*device='auto'"):
        resolve_device("cuda")
    with pytest.raises(DeviceNotAvailable, match=r"device='mps'.*only has: cpu\. Or run with device='auto'"):
        resolve_device("mps")


def test_missing_cuda_index_and_unknown_names_fail(monkeypatch):
    with pytest.raises(DeviceNotAvailable, match="Unknown device 'gpu'"):
        resolve_device("gpu")
    fake_machine(monkeypatch, cuda=True, mps=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == "cuda:0"
    assert resolve_device(torch.device("cuda:0")) == "cuda:0"
    with pytest.raises(DeviceNotAvailable, match="only 1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("device", ["cuda:x", "cuda:", "cuda:-1", "cpu:0:1", "", " cpu", "CUDA", 3, None])
def test_malformed_devices_name_the_accepted_forms(monkeypatch, device):
    fake_machine(monkeypatch, cuda=True, mps=False)
    with pytest.raises(DeviceNotAvailable, match=rf"Unknown device {re.escape(repr(device))}\. "
                                                 r"Use 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'\.$"):
        resolve_device(device)


def test_dtype_suits_the_device():
    assert dtype_for("cpu") == torch.float32
    assert dtype_for("cuda", capability=(7, 5)) == torch.float16      # Colab's T4: no bfloat16
    assert dtype_for("cuda:0", capability=(8, 0)) == torch.bfloat16   # A100 and newer
    assert dtype_for("mps") == torch.float16


def test_seed_everything_repeats_random_draws():
    import random

    import numpy as np
    seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    seed_everything(8)
    assert not torch.equal(torch.rand(3), first[2])
