"""Where training and scoring run: one answer for every module."""

from __future__ import annotations


def cuda_available() -> bool:
    """True when torch sees a CUDA device (torch imports lazily: the CLI's --help stays fast)."""
    import torch

    return torch.cuda.is_available()


def device_name() -> str:
    return "cuda" if cuda_available() else "cpu"
