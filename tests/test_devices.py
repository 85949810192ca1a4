import pytest
import torch

from utils.devices import DeviceNotAvailable, dtype_for, resolve_device, seed_everything


def test_auto_picks_what_is_present_and_says_so(capsys):
    chosen = resolve_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert chosen == expected
    assert f"using {expected!r}" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_missing_cuda_fails_early_with_the_fix():
    with pytest.raises(DeviceNotAvailable, match=r"device='cuda'.*only has: .*cpu.*device='auto'"):
        resolve_device("cuda")


def test_missing_cuda_index_and_unknown_names_fail(monkeypatch):
    with pytest.raises(DeviceNotAvailable, match="Unknown device 'gpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(DeviceNotAvailable, match="only 1 CUDA device"):
        resolve_device("cuda:3")


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
