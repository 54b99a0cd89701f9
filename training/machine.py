"""What a run runs on: cores, precision, hardware name, peak memory, and how many processes it was launched as."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

from engine.errors import UserError

LAUNCH_FLAGS = ("--num_processes", "--num-processes")


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def mixed_precision() -> str:
    """bf16 autocast on CUDA (fp16 with loss scaling on GPUs without bf16); fp32 on the CPU, where bf16 is slower."""
    import torch

    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def hardware(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {name}, {torch.get_num_threads()} threads"


def peak_memory(device) -> tuple[int, str]:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "GPU max_memory_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS"


def launcher_processes(parent_cmdline: list[str]) -> int | None:
    """The --num_processes an `accelerate launch` command line asked for (None: not such a command, or not said)."""
    if "launch" not in parent_cmdline or not any(Path(a).name.startswith("accelerate") for a in parent_cmdline):
        return None
    for i, arg in enumerate(parent_cmdline):
        for name in LAUNCH_FLAGS:
            if arg == name and i + 1 < len(parent_cmdline):
                value = parent_cmdline[i + 1]
            elif arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            else:
                continue
            return int(value) if value.isdigit() else None
    return None


def parent_cmdline() -> list[str]:
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:  # not Linux, or the parent is gone
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def requested_processes() -> int | None:
    """How many processes the launcher was asked for: torchrun/accelerate's WORLD_SIZE, or the parent
    `accelerate launch` command line (whose single-process path, e.g. with --cpu, sets no WORLD_SIZE)."""
    world = os.environ.get("WORLD_SIZE", "")
    if world.isdigit():
        return int(world)
    return launcher_processes(parent_cmdline())


def check_processes(running: int, requested: int | None) -> None:
    """Refuse a run that would silently train in fewer processes than the launcher was asked for."""
    if requested is None or requested == running:
        return
    raise UserError(
        f"the launcher asked for {requested} processes but this run has {running}: "
        f"`accelerate launch --cpu` runs one process whatever --num_processes says. For {requested} CPU "
        f"processes (gloo) run `ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes {requested} "
        f"-m training ...`; on GPUs `accelerate launch --multi_gpu --num_processes {requested} -m training ...` "
        f"(see docs/training.md, Scale)")
