"""Offline training of the postcard diffusion model: data, presets, the loop, checkpoints, export."""
