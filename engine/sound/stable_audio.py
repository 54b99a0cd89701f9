"""Stable Audio through diffusers: Stable Audio Open 1.0 (`StableAudioPipeline`) and Stable Audio 3
(`StableAudio3Pipeline`), loaded from a local folder or the Hugging Face cache only, never downloaded here.

Which pipeline a folder holds is read from its model_index.json. Weights load as safetensors only.
Stable Audio renders at the model's rate (44.1 kHz for Stable Audio Open); `resample` brings a clip to
the engine's rate once, when it is made, never in an audio callback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from engine.errors import UserError

DEFAULT_MODEL = "stabilityai/stable-audio-open-1.0"
# The prompt the artist gave Stable Audio for the jungle soundscapes: every stable-audio layer's default.
ARTIST_PROMPT = ("Generate a soundscape of a jungle, rich with nature sounds. The atmosphere should be dense "
                 "with the rustling of trees, leaves, and branches swaying. Camouflaged animals blend into the "
                 "environment, through their sounds\u2014soft bird calls, distant owl hoots, occasional gecko "
                 "chirps, the rhythmic croaking of frogs, and the delicate flapping of butterfly wings.")
PIPELINES = {"StableAudioPipeline": "Stable Audio Open 1.0", "StableAudio3Pipeline": "Stable Audio 3"}

HOW_TO_GET_WEIGHTS = f"""\
Stable Audio's weights are gated and not downloaded here. To use them:
  1. on the model page of {DEFAULT_MODEL} on Hugging Face, log in and accept the
     Stability AI Community License (Stable Audio 3: accept its licence on its own model page);
  2. on a connected machine: `hf auth login`, then
     `hf download {DEFAULT_MODEL} --local-dir stable-audio-open-1.0`
     (older clients: `huggingface-cli download {DEFAULT_MODEL} --local-dir stable-audio-open-1.0`);
  3. copy that folder here and pass it: `--model path/to/stable-audio-open-1.0`, or copy the machine's
     Hugging Face cache (~/.cache/huggingface/hub, or $HF_HOME/hub) and pass the repo id.
Or play the embedded synth instead: `--backend synth` needs no weights."""


def model_folder(path_or_repo_id: str | Path) -> Path:
    """The local folder of a model: a path, or a repo id found in the Hugging Face cache (no network)."""
    path = Path(path_or_repo_id).expanduser()
    if path.is_dir():
        return path
    name = str(path_or_repo_id)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise UserError(f"Stable Audio model {name!r}: expected a model folder or a repo id like "
                        f"{DEFAULT_MODEL!r}, found no such folder.\n{HOW_TO_GET_WEIGHTS}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except LocalEntryNotFoundError:
        raise UserError(f"Stable Audio model {name!r}: not in the Hugging Face cache.\n"
                        f"{HOW_TO_GET_WEIGHTS}") from None


def pipeline_class(folder: Path) -> type:
    """The diffusers pipeline class named in the folder's model_index.json (one of PIPELINES)."""
    import diffusers

    index = folder / "model_index.json"
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, ValueError) as e:
        raise UserError(f"{index}: expected a diffusers model_index.json, could not read it ({e})\n"
                        f"{HOW_TO_GET_WEIGHTS}") from None
    if name not in PIPELINES:
        raise UserError(f"{index}: expected one of {', '.join(PIPELINES)}, found {name!r}")
    if not hasattr(diffusers, name):
        raise UserError(f"{index}: {name} ({PIPELINES[name]}) is not in the installed diffusers "
                        f"{diffusers.__version__}; upgrade diffusers")
    return getattr(diffusers, name)


def pick_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def load_stable_audio(path_or_repo_id: str | Path = DEFAULT_MODEL, device: str = "auto"):
    """A Stable Audio pipeline on `device` (auto: GPU when present, half precision there)."""
    import torch

    folder = model_folder(path_or_repo_id)
    cls = pipeline_class(folder)
    device = pick_device(device)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    try:
        pipe = cls.from_pretrained(folder, dtype=dtype, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"Stable Audio model {folder}: could not load it as {cls.__name__} from safetensors "
                        f"({e})\n{HOW_TO_GET_WEIGHTS}") from None
    return pipe.to(device)


def model_rate(pipe) -> int:
    """The sample rate the pipeline renders at (44100 for Stable Audio Open)."""
    return int(pipe.vae.config.sampling_rate)


def generate(pipe, prompt: str, negative_prompt: str = "", seconds: float = 30.0, steps: int = 100,
             guidance: float = 7.0, seed: int = 0, n: int = 1) -> list[np.ndarray]:
    """`n` waveforms of `seconds` at the model's rate, each float32 (samples, 2)."""
    import torch

    if not seconds > 0:
        raise UserError(f"seconds: expected more than 0, found {seconds}")
    if steps < 1 or n < 1:
        raise UserError(f"steps and n: expected at least 1, found steps={steps}, n={n}")
    generator = torch.Generator("cpu").manual_seed(seed)
    common = dict(prompt=prompt, negative_prompt=negative_prompt or None, num_inference_steps=steps,
                  guidance_scale=guidance, num_waveforms_per_prompt=n, generator=generator, output_type="np")
    if type(pipe).__name__ == "StableAudioPipeline":
        longest = pipe.transformer.config.sample_size * pipe.vae.hop_length / model_rate(pipe)
        if seconds > longest:
            raise UserError(f"seconds: expected at most {longest:.2f} (the model's longest clip), found {seconds}")
        audios = pipe(audio_end_in_s=seconds, **common).audios
    else:
        audios = pipe(duration=seconds, **common).audios
    frames = math.floor(seconds * model_rate(pipe))
    clips = []
    for audio in np.asarray(audios, np.float32):  # (channels, samples)
        audio = audio[:, :frames].T
        clips.append(np.ascontiguousarray(np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]))
    return clips


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(frames, channels) audio from one rate to another (polyphase, scipy); done once, off the callback."""
    from scipy import signal

    if from_rate == to_rate:
        return np.asarray(audio, np.float32)
    g = math.gcd(int(from_rate), int(to_rate))
    return signal.resample_poly(audio, to_rate // g, from_rate // g, axis=0).astype(np.float32)
