"""Shared test set-up: no network, no sound card, tiny real models, the tests' own scenes, a perform config
on a tiny model, a job run as `postcards JOB` runs it.

Tests that need a JACK server or an X display are marked `jack` / `display` and skip with a reason when
none runs here; `make test` (and so CI) starts both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# No hub downloads, no real sound card for pygame's own mixer, quiet pygame banner.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

PROJECT = Path(__file__).resolve().parent.parent
# The tests' own scenes (copies, with the values the tests expect): the artist's scenes/ may change freely.
SCENES = PROJECT / "tests" / "fixtures" / "scenes"
WAIT = 120.0  # seconds: the sampler worker imports torch and diffusers first, on a busy 2-core machine


def jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config, items):
    no_jack = None if jack_running() else pytest.mark.skip(
        reason="no JACK server runs (`make test` starts one on the dummy driver)")
    no_display = None if os.environ.get("DISPLAY") else pytest.mark.skip(
        reason="no X display (`make test` runs under Xvfb)")
    for item in items:
        if no_jack and "jack" in item.keywords:
            item.add_marker(no_jack)
        if no_display and "display" in item.keywords:
            item.add_marker(no_display)


def save_tiny_model(folder: Path, sample_size: int = 32, seed: int = 0) -> Path:
    """A tiny random UNet2DModel + DDPMScheduler saved as a DDPMPipeline folder (safetensors)."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=sample_size, block_out_channels=(32, 64), layers_per_block=1,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(
        folder, safe_serialization=True)
    return Path(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """Path of a tiny random model folder, made once per test session."""
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def save_tiny_stable_audio(folder: Path) -> Path:
    """A tiny random StableAudioPipeline (Stable Audio Open's parts, its scheduler, 44.1 kHz) on disk."""
    import torch
    from diffusers import (AutoencoderOobleck, CosineDPMSolverMultistepScheduler, StableAudioDiTModel,
                           StableAudioPipeline, StableAudioProjectionModel)
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    torch.manual_seed(0)
    words = ["jungle", "bird", "frog", "owl", "leaves", "soft", "calls", "of", "a", "the", "low", "quality"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -3.0) for w in words] + [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz,.-"]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=32)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                           num_heads=4))
    pipe = StableAudioPipeline(
        vae=AutoencoderOobleck(encoder_hidden_size=6, downsampling_ratios=[4, 8], decoder_channels=3,
                               decoder_input_channels=3, audio_channels=2, channel_multiples=[2, 4],
                               sampling_rate=44100),
        text_encoder=text_encoder, tokenizer=tokenizer,
        projection_model=StableAudioProjectionModel(text_encoder_dim=32, conditioning_dim=4, min_value=0,
                                                    max_value=64),
        transformer=StableAudioDiTModel(sample_size=512, in_channels=3, num_layers=2, attention_head_dim=4,
                                        num_key_value_attention_heads=2, out_channels=3, cross_attention_dim=4,
                                        time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4),
        scheduler=CosineDPMSolverMultistepScheduler(solver_order=2, prediction_type="v_prediction",
                                                    sigma_data=1.0, sigma_schedule="exponential"))
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def write_config(tmp_path: Path, tiny_model: Path, audio: str = "enabled = false", osc: str = "enabled = false") -> Path:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "tiny.toml").write_text(
        f'[visual]\nmodel = "{tiny_model}"\nsteps = 4\nhold = 0.4\ncrossfade = 0.6\ndrift = 0.05\n'
        f'scheduler = "ddim"\n\n[sound.layers.frogs]\nsource = "frogs"\n')
    (scenes / "still.toml").write_text(f'[visual]\nmodel = "{tiny_model}"\nsteps = 3\nframe = "postcard"\n')
    (tmp_path / "models").mkdir()
    path = tmp_path / "config.toml"
    path.write_text(f'[display]\nsize = [160, 90]\nfps = 30\n\n[audio]\n{audio}\n\n[osc]\n{osc}\n\n'
                    f'[oscquery]\nenabled = false\n\n[sampler]\nqueue = 2\ndevice = "cpu"\n\n'
                    f'[show]\nscene = "tiny"\n\n[logging]\nfile = ""\n')
    return path


def run_job(job, settings, *argv: str) -> int:
    """A job module run as `postcards JOB ARGV` runs it, without importing the other jobs."""
    parser = argparse.ArgumentParser()
    job.configure(parser)
    args = parser.parse_args(argv)
    args.settings = settings
    return job.run(args)


def namespace_allowed() -> bool:
    """A private network namespace with its loopback up (util-linux's unshare, iproute2's ip, the right to)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0
