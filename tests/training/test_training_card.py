"""The model card: every fact the issue asks for, and metrics added later by another job."""

from __future__ import annotations

import json

from training.card import FACTS, render, write_card

FACTS_EXAMPLE = {
    "name": "camo-small", "data": "/photos", "images": 203, "skipped": 2, "preset": "small", "resolution": 64,
    "params": 4329059, "batch": 32, "processes": 1, "epochs": 120.0, "steps": 840, "images_seen": 26880,
    "lr": 2e-4, "lr_schedule": "cosine", "warmup_steps": 25, "wall_s": 3725.0, "hardware": "CPU Test, 2 threads",
    "img_per_s": 7.2, "peak_mem_bytes": 2 * 2**30, "peak_mem_kind": "peak RSS", "seed": 0, "preview_steps": 20,
    "preview": "preview.png", "command": "python -m training --data /photos --out models/camo-small",
}


def test_the_card_states_data_preset_time_hardware_and_samples():
    card = render(FACTS_EXAMPLE)
    for fact in ("library_name: diffusers", "/photos (203 images, 2 skipped: unreadable, or without a mask)", "small, 64 px",
                 "120.0 epochs, 840 steps", "26,880 images seen", "1 h 02 min", "CPU Test, 2 threads",
                 "7.2 img/s", "2.00 GiB (peak RSS)", "![samples](preview.png)", "20-step DPM-Solver++",
                 "4,329,059 parameters", "python -m training --data /photos"):
        assert fact in card, fact
    assert "## Metrics" not in card


def test_metrics_added_later_appear_in_the_card(tmp_path):
    write_card(tmp_path, FACTS_EXAMPLE)
    facts = json.loads((tmp_path / FACTS).read_text())
    facts["metrics"] = {"swd": 0.01234, "near_copies": 0}
    (tmp_path / FACTS).write_text(json.dumps(facts))
    write_card(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "## Metrics" in card and "| swd | 0.01234 |" in card and "| near_copies | 0 |" in card


def test_provenance_and_the_fifty_postcard_grid_appear_when_given():
    assert "## Data" not in render(FACTS_EXAMPLE) and "## Fifty postcards" not in render(FACTS_EXAMPLE)
    card = render({**FACTS_EXAMPLE, "provenance": "203 photos from a public repository; never redistributed.",
                   "grid": "grid.png", "grid_sampler": "dpmsolver++, 20 steps, seed 0"})
    assert "## Data\n\n203 photos from a public repository; never redistributed." in card
    assert "![fifty postcards](grid.png)" in card and "dpmsolver++, 20 steps, seed 0" in card
    assert "postcards generate --n 50 --grid`" in card and "their masks" not in card
    card = render({**FACTS_EXAMPLE, "grid": "grid.png", "grid_sampler": "ddpm", "grid_mask": "grid.mask.png",
                   "grid_command": "postcards generate --model default --n 50 --grid-only --out models/default"})
    assert "![their masks](grid.mask.png)" in card and "--grid-only --out models/default`" in card
    assert "## Notes" not in card and "super-resolution" not in card
    assert "brought to 256 px by its super-resolution stage" in render({**FACTS_EXAMPLE, "finished_side": 256})
    assert render({**FACTS_EXAMPLE, "notes": "Sample it with DDPM."}).endswith("## Notes\n\nSample it with DDPM.\n")


def test_the_recipe_channels_step_budget_and_preview_colours_appear_when_trained_with_them():
    card = render({**FACTS_EXAMPLE, "prediction": "v", "zero_snr": True, "min_snr_gamma": 5.0,
                   "mean_colour_weight": 4.0, "norm_groups": 8, "channels": 4, "masks": "/masks",
                   "step_budget": 6000, "preview_colour": {"colour_x1e3": 12.5, "cast_rate": 0.0625}})
    for fact in ("v-prediction, zero-terminal-SNR betas, trailing timesteps, min-SNR-5, mean-colour term x4, "
                 "8 GroupNorm groups", "RGB + the animal's mask (masks: /masks)", "6000 steps",
                 "colour distance x1e3 12.50, cast rate 6%"):
        assert fact in card, fact
    assert "| recipe |" not in render(FACTS_EXAMPLE)  # a model from before the recipe: no guesses
