"""The model card (README.md) of an exported model folder, written from the facts of its training run.

The facts live next to it in `training.json`; another job (evaluate) may add a "metrics" entry there and
call `write_card(folder)` again to refresh the card.
"""

from __future__ import annotations

import json
from pathlib import Path

FACTS = "training.json"


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


def _duration(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


def render(facts: dict) -> str:
    lines = [
        "---", "library_name: diffusers", "tags:", "- unconditional-image-generation", "- ddpm", "---", "",
        f"# {facts['name']}", "",
        f"An unconditional DDPM (`UNet2DModel`, preset `{facts['preset']}`, {facts['params']:,} parameters) "
        f"that paints {facts['resolution']} px postcards for *Postcards from my Jungle*" +
        (f", brought to {facts['finished_side']} px by its super-resolution stage (`superres/`). "
         if facts.get("finished_side") else ". ") +
        "The weights are the EMA weights. Load it with `DDPMPipeline.from_pretrained(folder)`; sample with a "
        "few-step scheduler (e.g. DPM-Solver++, 20 steps) through the scheduler's `from_config`.", "",
    ]
    if facts.get("provenance"):
        lines += ["## Data", "", facts["provenance"], ""]
    lines += [
        "## Training", "",
        "| | |", "|---|---|",
        f"| data | {facts['data']} ({facts['images']} images" +
        (f", {facts['skipped']} skipped: unreadable, or without a mask" if facts.get("skipped") else "") + ") |",
        f"| preset, resolution | {facts['preset']}, {facts['resolution']} px |",
        *recipe_rows(facts),
        f"| epochs, steps | {facts['epochs']:.1f} epochs, {facts['steps']} steps of {facts['batch']} x "
        f"{facts['processes']} process(es) = {facts['images_seen']:,} images seen |",
        f"| optimiser | AdamW, lr {facts['lr']:g} ({facts['lr_schedule']}, {facts['warmup_steps']} warm-up steps) |",
        f"| wall time | {_duration(facts['wall_s'])} |",
        f"| hardware | {facts['hardware']} |",
        f"| speed | {facts['img_per_s']:.1f} img/s (images seen / wall time: checkpoints and previews included) |",
        f"| peak memory | {_size(facts['peak_mem_bytes'])} ({facts['peak_mem_kind']}) |",
        f"| seed | {facts['seed']} |", "",
    ]
    if facts.get("metrics"):
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                  for k, v in facts["metrics"].items()]
        lines.append("")
    if facts.get("grid"):
        command = facts.get("grid_command", "postcards generate --n 50 --grid")
        lines += ["## Fifty postcards", "", f"`{command}` ({facts['grid_sampler']}):", "",
                  f"![fifty postcards]({facts['grid']})", ""]
        if facts.get("grid_mask"):
            lines += ["The mask of each one's hidden animal, painted with it (white = animal), in the same places:",
                      "", f"![their masks]({facts['grid_mask']})", ""]
    if facts.get("preview"):
        lines += ["## Samples", "", f"{facts['preview_steps']}-step DPM-Solver++ from the EMA weights at step "
                  f"{facts['steps']}:", "", f"![samples]({facts['preview']})", ""]
        if facts.get("preview_colour"):
            c = facts["preview_colour"]
            lines += [f"Their colours against the photos' (a rough figure from a few postcards; "
                      f"`postcards evaluate` measures it properly): colour distance x1e3 {c['colour_x1e3']:.2f}, "
                      f"cast rate {c['cast_rate']:.0%}.", ""]
    lines += ["Command:", "", "```", facts["command"], "```", ""]
    if facts.get("notes"):  # what people found out about the model afterwards (how to sample it, say)
        lines += ["## Notes", "", facts["notes"], ""]
    return "\n".join(lines)


def recipe_rows(facts: dict) -> list[str]:
    """The recipe's rows of the training table (models trained before it existed lack them: ε, linear)."""
    if "prediction" not in facts:
        return []
    target = "v-prediction" if facts["prediction"] == "v" else "ε-prediction"
    schedule = "zero-terminal-SNR betas, trailing timesteps" if facts["zero_snr"] else "linear betas"
    weights = f"min-SNR-{facts['min_snr_gamma']:g}" if facts["min_snr_gamma"] else "plain MSE"
    colour = f", mean-colour term x{facts['mean_colour_weight']:g}" if facts["mean_colour_weight"] else ""
    channels = "RGB + the animal's mask" if facts.get("channels") == 4 else "RGB"
    rows = [f"| recipe | {target}, {schedule}, {weights}{colour}, {facts['norm_groups']} GroupNorm groups |",
            f"| channels | {channels}" + (f" (masks: {facts['masks']})" if facts.get("masks") else "") + " |"]
    if facts.get("colour_anchor"):
        rows.append(f"| colour anchor | sampling takes each postcard's mean colour from a photo's while the "
                    f"timestep is >= {facts['colour_anchor']} (colours.json) |")
    if facts.get("step_budget"):
        rows.append(f"| step budget | {facts['step_budget']} steps (the LR schedule's length) |")
    return rows


def write_card(folder: Path, facts: dict | None = None) -> None:
    """Write `training.json` (when facts are given) and README.md from it."""
    folder = Path(folder)
    if facts is None:
        facts = json.loads((folder / FACTS).read_text())
    else:
        (folder / FACTS).write_text(json.dumps(facts, indent=2))
    (folder / "README.md").write_text(render(facts))
