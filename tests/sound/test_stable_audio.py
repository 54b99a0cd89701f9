"""Stable Audio through diffusers, offline: a tiny randomly initialised pipeline saved as safetensors and
loaded back through our loader; waveforms, seeds, resampling 44.1 -> 48 kHz; clear errors without weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UserError
from conftest import save_tiny_stable_audio
from engine.sound.stable_audio import (DEFAULT_MODEL, PIPELINES, generate, load_stable_audio, model_folder,
                                       model_rate, pipeline_class, resample)

SECONDS = 0.3


def save_tiny_stable_audio_3(folder: Path) -> Path:
    """A tiny random StableAudio3Pipeline (its own VAE, T5Gemma encoder, duration embedder) on disk."""
    import torch
    from diffusers import AutoencoderSAME, FlowMatchEulerDiscreteScheduler, StableAudio3DiTModel, StableAudio3Pipeline
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GemmaTokenizerFast, T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    torch.manual_seed(0)
    width = 16  # text encoder, DiT conditioning and duration embedding must agree
    words = ["<pad>", "<eos>", "<bos>", "<unk>", "jungle", "soft", "bird", "calls", "frogs"]
    vocab = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    vocab.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = GemmaTokenizerFast(tokenizer_object=vocab, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                                   unk_token="<unk>", model_max_length=16)
    module = T5GemmaModuleConfig(vocab_size=len(words), hidden_size=width, intermediate_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=64,
                                 sliding_window=64, layer_types=["full_attention", "full_attention"])
    StableAudio3Pipeline(
        vae=AutoencoderSAME(audio_channels=2, patch_size=2, encoder_channels=8, encoder_c_mults=(2,),
                            encoder_strides=(2,), encoder_transformer_depths=(1,), latent_dim=8,
                            use_differential_attention=False, dim_heads=4, ff_mult=2, sampling_rate=44100),
        text_encoder=T5GemmaEncoderModel(T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(),
                                                       is_encoder_decoder=False)),
        tokenizer=tokenizer,
        duration_embedder=StableAudio3DurationEmbedder(output_dim=width, fourier_dim=16),
        transformer=StableAudio3DiTModel(io_channels=8, patch_size=1, embed_dim=32, depth=2, num_heads=4,
                                         cond_token_dim=width, global_cond_dim=width, local_add_cond_dim=5,
                                         timestep_features_dim=16, ff_mult=2, num_memory_tokens=3,
                                         use_differential_attention=False),
        scheduler=FlowMatchEulerDiscreteScheduler()).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny_stable_audio(tmp_path_factory.mktemp("stable-audio") / "tiny-stable-audio")


@pytest.fixture(scope="module")
def tiny_pipe(tiny_folder):
    return load_stable_audio(tiny_folder, device="cpu")


def test_tiny_model_loads_from_a_folder_and_makes_stereo_waveforms(tiny_folder, tiny_pipe):
    assert not list(tiny_folder.rglob("*.bin")) and list(tiny_folder.rglob("*.safetensors"))
    assert type(tiny_pipe).__name__ == "StableAudioPipeline" and model_rate(tiny_pipe) == 44100
    clips = generate(tiny_pipe, "soft bird calls", "low quality", seconds=SECONDS, steps=2, guidance=3.0,
                     seed=1, n=2)
    assert len(clips) == 2
    for clip in clips:
        assert clip.dtype == np.float32 and clip.shape == (int(SECONDS * 44100), 2) and np.isfinite(clip).all()
    assert not np.allclose(clips[0], clips[1])
    again = generate(tiny_pipe, "soft bird calls", "low quality", seconds=SECONDS, steps=2, guidance=3.0,
                     seed=1, n=2)
    np.testing.assert_allclose(again[0], clips[0], atol=1e-5)
    # Once, off the callback: to the engine's 48 kHz.
    at_48k = resample(clips[0], model_rate(tiny_pipe), 48000)
    assert at_48k.dtype == np.float32 and at_48k.shape == (round(SECONDS * 48000), 2)


def test_tiny_stable_audio_3_loads_and_makes_waveforms_too(tmp_path):
    folder = save_tiny_stable_audio_3(tmp_path / "tiny-stable-audio-3")
    pipe = load_stable_audio(folder, device="cpu")
    assert type(pipe).__name__ == "StableAudio3Pipeline" and model_rate(pipe) == 44100
    clips = generate(pipe, "soft bird calls", seconds=0.05, steps=2, guidance=1.0, seed=1, n=2)
    assert [clip.shape for clip in clips] == [(int(0.05 * 44100), 2)] * 2
    assert all(clip.dtype == np.float32 and np.isfinite(clip).all() for clip in clips)
    assert resample(clips[0], 44100, 48000).shape == (round(0.05 * 48000), 2)


def test_resampling_keeps_pitch_and_length():
    t = np.arange(44100) / 44100
    tone = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2, axis=1).astype(np.float32)
    out = resample(tone, 44100, 48000)
    assert out.shape == (48000, 2)
    spectrum = np.abs(np.fft.rfft(out[:, 0]))
    assert abs(np.argmax(spectrum) * 48000 / len(out) - 1000) <= 1
    assert resample(tone, 48000, 48000) is not None and resample(tone, 48000, 48000).shape == tone.shape


def test_repo_id_is_found_in_the_hugging_face_cache_without_network(tiny_folder, tmp_path, monkeypatch):
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-stable-audio"
    shutil.copytree(tiny_folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert model_folder("someone/tiny-stable-audio") == repo / "snapshots" / commit


def test_wrong_lengths_are_clear_errors(tiny_pipe):
    with pytest.raises(UserError, match="seconds: expected more than 0"):
        generate(tiny_pipe, "birds", seconds=0)
    with pytest.raises(UserError, match="longest clip"):
        generate(tiny_pipe, "birds", seconds=60, steps=1)


def test_missing_weights_say_gated_which_licence_and_where_to_put_them(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    for name in (DEFAULT_MODEL, str(tmp_path / "no-such-folder")):
        with pytest.raises(UserError) as e:
            load_stable_audio(name, device="cpu")
        message = str(e.value)
        for must in ("gated", "Stability AI Community License", DEFAULT_MODEL, "hf download", "--model",
                     "huggingface/hub", "--backend synth"):
            assert must in message, (must, message)


def test_folder_that_is_not_stable_audio_is_refused(tmp_path):
    with pytest.raises(UserError, match="model_index.json"):
        pipeline_class(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "DDPMPipeline"}))
    with pytest.raises(UserError, match="expected one of StableAudioPipeline, StableAudio3Pipeline"):
        pipeline_class(tmp_path)


def test_stable_audio_3_is_in_the_installed_diffusers_and_chosen_by_model_index(tmp_path):
    import diffusers

    assert set(PIPELINES) == {"StableAudioPipeline", "StableAudio3Pipeline"}
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableAudio3Pipeline"}))
    assert pipeline_class(tmp_path) is diffusers.StableAudio3Pipeline
