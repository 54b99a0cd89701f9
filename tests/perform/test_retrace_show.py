"""The animal's mask from model to screen: a 4-channel model's postcards carry their mask (`generate` writes
it beside them), its config is checked before loading, the sampler process hands mask and retraced pictures
over intact, the compositor retraces the animal on a real Surface as each mode promises, and the show
reaches it from a key, a scene and an offline render."""

from __future__ import annotations

import json
import re
import os
import shutil
import time
from dataclasses import replace

import numpy as np
import pygame
import pytest
from PIL import Image

from conftest import WAIT
from engine.cli import generate
from engine.control.keys import command_for
from engine.errors import UserError
from engine.picture.compositor import Look, Renderer
from engine.postcards.generate import generate as generate_postcards
from engine.postcards.maker import Recipe, finished, split_mask
from engine.postcards.retrace import MODES, retraced
from engine.postcards.store import load_model
from engine.postcards.inline import InlineSampler
from engine.postcards.worker import SamplerClient
from engine.settings.config import load_config
from engine.settings.scenes import load_scene
from engine.settings.schema import SettingsError

def save_model(folder, channels=4, sample_size=16):
    """A tiny random UNet2DModel that paints `channels` channels, saved as a diffusers folder (safetensors)."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=sample_size, in_channels=channels, out_channels=channels,
                       block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"))
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(
        folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def mask_model(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("models") / "masked")


@pytest.fixture(scope="module", autouse=True)
def sdl():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    yield


def write_config(tmp_path, model, visual=""):
    (tmp_path / "scenes").mkdir(exist_ok=True)
    (tmp_path / "scenes" / "hidden.toml").write_text(
        f'[visual]\nmodel = "{model}"\nsteps = 3\nscheduler = "ddim"\nhold = 5\ncrossfade = 0.2\ndrift = 0.0\n'
        f'frame = "fill"\n{visual}')
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "config.toml").write_text(
        '[paths]\nmodels = "models"\n[audio]\nenabled = false\n[osc]\nenabled = false\n[oscquery]\nenabled = false\n'
        '[sampler]\nqueue = 2\ndevice = "cpu"\n[show]\nscene = "hidden"\n[logging]\nfile = ""\n')
    return load_config(tmp_path / "config.toml")


# ---- generate ---------------------------------------------------------------------------------------------

def test_generate_writes_each_mask_beside_its_postcard(mask_model, tmp_path, capsys):
    import argparse

    settings = write_config(tmp_path, mask_model)
    parser = argparse.ArgumentParser()
    generate.configure(parser)
    args = parser.parse_args(["--model", str(mask_model), "--n", "3", "--steps", "2", "--grid", "--out",
                              str(tmp_path / "out")])
    args.settings = settings
    assert generate.run(args) == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {f"postcard_{i:03d}{kind}.png" for i in range(3)
                                                for kind in ("", ".mask")} | {"grid.png", "grid.mask.png"}
    masks = [np.asarray(Image.open(out / f"postcard_{i:03d}.mask.png")) for i in range(3)]
    assert all(m.shape == (16, 16) and set(np.unique(m)) <= {0, 255} for m in masks)
    assert Image.open(out / "postcard_000.png").mode == "RGB" and Image.open(out / "grid.mask.png").size == (32, 32)
    # the files are the model's fourth channel, thresholded at half
    painted = generate_postcards(load_model(mask_model, "cpu"), scheduler="dpmsolver++", n=3, steps=2, seed=0,
                                 batch=8)
    assert painted.shape == (3, 16, 16, 4)
    assert all(np.array_equal(m, split_mask(p)[1]) for m, p in zip(masks, painted))
    assert any(m.any() for m in masks) and not all(m.all() for m in masks)
    assert "postcard_000.mask.png" in capsys.readouterr().out


@pytest.mark.parametrize("key, value, expected", [
    ("in_channels", 5, "key 'in_channels': expected 3 (RGB) or 4"),
    ("out_channels", 3, "keys 'in_channels' and 'out_channels': expected the same"),
    ("sample_size", 100000, "key 'sample_size': expected a whole number of pixels"),
    ("_class_name", "UNet2DConditionModel", "key '_class_name': expected 'UNet2DModel'"),
])
def test_a_model_config_is_checked_before_anything_is_allocated(mask_model, tmp_path, key, value, expected):
    bad = tmp_path / "bad"
    shutil.copytree(mask_model, bad)
    config = json.loads((bad / "unet" / "config.json").read_text())
    config[key] = value
    (bad / "unet" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=re.escape(f"{bad / 'unet' / 'config.json'}: {expected}")):
        load_model(bad, "cpu")


# ---- the sampler ----------------------------------------------------------------------------------------

def test_the_sampler_process_hands_over_mask_and_retraced_pictures(mask_model, tmp_path, tiny_model):
    config = write_config(tmp_path, mask_model)
    recipe = Recipe(str(mask_model), "dpmsolver++", 3)
    client = SamplerClient(config, iter(range(50, 1000)).__next__, side=16, min_delay=0.1)
    try:
        client.configure(recipe)
        end = time.monotonic() + WAIT
        while not client.ready and time.monotonic() < end:
            client.poll(time.monotonic())
            time.sleep(0.05)
        postcard = client.take()
    finally:
        client.close()
    assert postcard is not None, f"no postcard in {WAIT} s; stats {client.stats}"
    assert postcard.image.shape == (16, 16, 3) and postcard.mask.shape == (16, 16)
    assert set(np.unique(postcard.mask)) <= {0, 255} and postcard.mask.any()
    assert list(postcard.retraced) == list(MODES) and all(len(p.shape) == 3 for p in postcard.previews)
    # what the show got is what the worker made from that picture and mask, byte for byte
    again = retraced(postcard.image, postcard.mask)
    assert all(np.array_equal(again[m], postcard.retraced[m]) for m in MODES)
    inline = InlineSampler(config, iter([50]).__next__)
    inline.configure(recipe)
    here = inline.take()
    assert np.abs(here.image.astype(int) - postcard.image).max() <= 2 and (here.mask != postcard.mask).mean() < 0.02
    plain = InlineSampler(config, iter([50]).__next__)
    plain.configure(Recipe(str(tiny_model), "dpmsolver++", 3))
    rgb = plain.take()
    assert rgb.mask is None and rgb.retraced == {}  # 3-channel models: no mask, nothing to retrace


# ---- the compositor on a real Surface -------------------------------------------------------------------

def hidden_postcard():
    """A 64 px postcard of muted foliage with a square animal in the middle painted in nearly its colours."""
    rng = np.random.default_rng(1)
    picture = np.zeros((64, 64, 4), np.uint8)
    picture[..., :3] = (np.array([100, 115, 70]) + rng.normal(0, 10, (64, 64, 3))).clip(0, 255)
    picture[16:48, 16:48, :3] = (picture[16:48, 16:48, :3].astype(int) + [10, 4, -4]).clip(0, 255)
    picture[16:48, 16:48, 3] = 255
    return finished(7, picture, [])


def drawn(postcard, look, size=(128, 128)):
    target = pygame.Surface(size, 0, 32)
    renderer = Renderer()
    renderer.begin(postcard, 0.0, 0.0)
    renderer.draw(target, 1.0, look)
    return pygame.surfarray.array3d(target).transpose(1, 0, 2).astype(float)  # (H, W, 3)


INSIDE = (slice(44, 84), slice(44, 84))      # well inside the animal (screen pixels, 2x the postcard)
OUTSIDE = (slice(0, 20), slice(0, 128))      # well outside it
EDGE = (slice(32, 34), slice(40, 88))        # on its top edge (the line is one postcard pixel: two here)


def saturation(pixels):
    return float((pixels.max(-1) - pixels.min(-1)).mean())


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_changes_inside_and_outside_the_animal_as_it_promises(mode):
    postcard = hidden_postcard()
    plain = drawn(postcard, Look(frame="fill", retrace=0.0, retrace_mode=mode))
    full = drawn(postcard, Look(frame="fill", retrace=1.0, retrace_mode=mode))
    half = drawn(postcard, Look(frame="fill", retrace=0.5, retrace_mode=mode))
    change = lambda a, region: float(np.abs(a[region] - plain[region]).mean())  # noqa: E731
    if mode == "outline":
        assert change(full, EDGE) > 40 and full[EDGE].mean() > 160  # a light line along the edge (smoothscaled)
        assert change(full, INSIDE) < 1 and change(full, OUTSIDE) < 1
    elif mode == "spotlight":
        assert full[OUTSIDE].mean() < 0.3 * plain[OUTSIDE].mean()
        assert change(full, INSIDE) < 0.05 * plain[INSIDE].mean()
    else:
        assert saturation(full[INSIDE]) > 1.5 * saturation(plain[INSIDE])
        assert change(full, OUTSIDE) < 1
    region = OUTSIDE if mode == "spotlight" else (EDGE if mode == "outline" else INSIDE)
    assert 0.3 < change(half, region) / change(full, region) < 0.7  # /visual/retrace is the blend's alpha


def test_postcards_without_a_mask_are_drawn_unchanged():
    postcard = finished(3, hidden_postcard().image, [])
    assert postcard.mask is None
    assert np.array_equal(drawn(postcard, Look(retrace=1.0, retrace_mode="spotlight")), drawn(postcard, Look()))


# ---- the show: key, scene, render -----------------------------------------------------------------------

def test_key_a_turns_the_retrace_on_and_off():
    event = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a)
    assert command_for(event, {"/visual/retrace": 0.0}).args == (1.0,)
    assert command_for(event, {"/visual/retrace": 0.4}).args == (0.0,)
    assert command_for(event, {}).address == "/visual/retrace"


def test_a_scene_sets_retrace_and_its_mode_and_a_bad_mode_is_named(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[visual]\nretrace = 0.6\nretrace_mode = "spotlight"\n')
    assert (load_scene(path).visual.retrace, load_scene(path).visual.retrace_mode) == (0.6, "spotlight")
    path.write_text('[visual]\nretrace_mode = "xray"\n')
    with pytest.raises(SettingsError, match="visual.retrace_mode.*outline, spotlight, uncamouflage"):
        load_scene(path)


def test_render_retraces_offline_as_the_scene_and_a_cue_ask(mask_model, tmp_path):
    from engine.perform.offline import offline
    from engine.show.controls import Command

    def frames(folder, visual, cue=None):
        config = write_config(folder, mask_model, visual)
        with offline(config, size=(64, 64), seed=3) as performance:
            shots = []
            for i in range(8):
                if cue is not None and i == 4:
                    performance.show.submit(cue)
                shots.append(pygame.surfarray.array3d(performance.frame(i / 4)).astype(float))
            assert performance.show.get("/visual/retrace_mode") == "spotlight"
            return shots

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    plain = frames(tmp_path / "a", 'retrace_mode = "spotlight"\n')
    lit = frames(tmp_path / "b", 'retrace = 1.0\nretrace_mode = "spotlight"\n')
    cued = frames(tmp_path / "c", 'retrace_mode = "spotlight"\n', Command("/visual/retrace", (1.0,), "cue"))
    assert lit[3].mean() < 0.8 * plain[3].mean()  # the same postcard, spotlit: darker around its animal
    assert np.array_equal(cued[3], plain[3]) and np.array_equal(cued[6], lit[6])


@pytest.mark.display
@pytest.mark.parametrize("mode", MODES)
def test_a_real_window_with_sdl_textures_retraces_as_surfaces_do(monkeypatch, mode):
    from pygame._sdl2 import video

    from engine.picture.canvas import TextureCanvas

    look = Look(frame="fill", retrace=0.8, retrace_mode=mode)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.setenv("SDL_RENDER_SCALE_QUALITY", "linear")
    pygame.display.quit()
    pygame.display.init()
    try:
        window = video.Window("retrace", size=(128, 128))
        renderer = video.Renderer(window)
        r = Renderer()
        r.begin(hidden_postcard(), 0.0, 0.0)
        r.draw(TextureCanvas(renderer), 1.0, look)
        textured = pygame.surfarray.array3d(renderer.to_surface()).transpose(1, 0, 2).astype(float)
        window.destroy()
    finally:
        pygame.display.quit()
        monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
        pygame.display.init()
    blitted, plain = drawn(hidden_postcard(), look), drawn(hidden_postcard(), Look(frame="fill"))
    # Filtering differs pixel by pixel (GPU linear vs smoothscale); region by region the pictures agree.
    for region in (INSIDE, OUTSIDE, EDGE):
        assert np.abs(textured[region].mean((0, 1)) - blitted[region].mean((0, 1))).max() < 4, (mode, region)
    region = {"outline": EDGE, "spotlight": OUTSIDE, "uncamouflage": INSIDE}[mode]
    assert np.abs(textured[region].mean((0, 1)) - plain[region].mean((0, 1))).max() > 20  # and it shows
