"""One line that says what machine a benchmark ran on, for every results table."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import onnxruntime
import torch


def describe_hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"ONNX Runtime {onnxruntime.__version__}, Python {platform.python_version()}"
    )
