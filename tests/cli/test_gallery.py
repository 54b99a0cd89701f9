"""`postcards gallery`: a folder with a page of every scene's postcards (seed, model, scene) and soundscape,
linked by relative paths; a real headless Chromium opens it from the folder (file://, no server) and every
picture and sound loads."""

from __future__ import annotations

import argparse
import asyncio
import re

import pytest
import soundfile

from browser import chromium
from engine.cli import gallery
from engine.errors import UserError
from engine.settings.config import load_config
from conftest import write_config


def make_gallery(config_path, out, *extra) -> int:
    parser = argparse.ArgumentParser()
    gallery.configure(parser)
    args = parser.parse_args(["--out", str(out), "--n", "2", "--seconds", "1.5", "--seed", "5", "--size", "64",
                              *extra])
    args.settings = load_config(config_path)
    return gallery.run(args)


@pytest.fixture
def made(tmp_path, tiny_model):
    config_path = write_config(tmp_path, tiny_model)
    out = tmp_path / "gallery"
    assert make_gallery(config_path, out) == 0
    return config_path, out


def test_the_gallery_holds_every_scene_with_its_facts_and_files(made):
    config_path, out = made
    page = (out / "index.html").read_text()
    for scene in ("tiny", "still"):
        assert f'<h2>{scene}</h2>' in page
        assert sorted(p.name for p in (out / scene).glob("*.png")) == ["postcard-5.png", "postcard-6.png"]
    assert "seed 5 · model tiny · ddim 4 steps" in page and "seed 6 · model tiny · ddim 4 steps" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert sources and all(not s.startswith(("/", "http")) and (out / s).is_file() for s in sources)
    info = soundfile.info(out / "tiny" / "soundscape.wav")  # the tiny scene's frogs
    assert info.channels == 2 and abs(info.duration - 1.5) < 0.01
    assert not (out / "still" / "soundscape.wav").exists()  # no synth layer: postcards alone


def test_a_gallery_is_made_again_in_place_but_never_over_other_files(made, tmp_path):
    config_path, out = made
    assert make_gallery(config_path, out, "--scenes", "tiny") == 0
    assert (out / "tiny" / "postcard-5.png").is_file()
    other = tmp_path / "documents"
    other.mkdir()
    (other / "letter.txt").write_text("mine")
    with pytest.raises(UserError, match="expected an empty folder or an earlier gallery"):
        make_gallery(config_path, other)
    with pytest.raises(UserError, match="--scenes: expected one of still, tiny"):
        make_gallery(config_path, tmp_path / "new", "--scenes", "../secret")


def test_a_browser_opens_it_from_the_folder(made):
    config_path, out = made

    async def scenario():
        async with chromium() as page:
            await page.call("Page.navigate", url=(out / "index.html").as_uri())
            await page.wait_for("document.readyState === 'complete'")
            images = await page.evaluate("[...document.images].map(i => i.naturalWidth)")
            durations = await page.wait_for(
                "(() => { const a = [...document.querySelectorAll('audio')];"
                " return a.every(x => x.readyState >= 1) && a.map(x => x.duration); })()")
            return images, durations

    images, durations = asyncio.run(scenario())
    assert len(images) == 4 and all(width == 64 for width in images)
    assert len(durations) == 1 and abs(durations[0] - 1.5) < 0.05
