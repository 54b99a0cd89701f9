"""What each training step sees: a pure function of (seed, step, process), so runs repeat and resume exactly.

The image order of epoch e comes from a generator seeded with (seed, e); the crops (several scales of the
whole photos, training/data.py), flips, noise and timesteps of step s on process r from (seed, s, r).
Nothing draws from global RNG state.
"""

from __future__ import annotations

import math

import numpy as np

WEIGHTS, ORDER, STEP, GPU_NOISE = 0, 1, 2, 3  # streams, so the seeds of different uses never collide


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (NumPy's SeedSequence), the same on every machine."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


class Batches:
    def __init__(self, images, *, resolution: int, batch: int, processes: int, rank: int, seed: int,
                 timesteps: int, flip: bool = True):
        """`images`: a training.data.ImageSet (its crops come out on its device)."""
        self.images, self.resolution, self.batch, self.rank, self.seed = images, resolution, batch, rank, seed
        self.timesteps, self.flip = timesteps, flip
        self.global_batch = batch * processes
        self.steps_per_epoch = math.ceil(len(images) / self.global_batch)
        self._order, self._order_epoch = None, -1

    def epoch_order(self, epoch: int):
        """Image indices of an epoch, repeated to fill its last step when the set is not a whole number of batches."""
        import torch

        n, length = len(self.images), self.steps_per_epoch * self.global_batch
        order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(self.seed, ORDER, epoch)))
        return order.repeat(math.ceil(length / n))[:length]

    def indices(self, step: int):
        """This process's slice of the global batch of `step`."""
        epoch, in_epoch = divmod(step, self.steps_per_epoch)
        if epoch != self._order_epoch:
            self._order, self._order_epoch = self.epoch_order(epoch), epoch
        start = in_epoch * self.global_batch + self.rank * self.batch
        return self._order[start:start + self.batch]

    def __call__(self, step: int):
        """(clean images in [-1, 1], noise, timesteps) for `step`, on the images' device, channels_last."""
        import torch

        device = self.images.device
        generator = torch.Generator().manual_seed(derive_seed(self.seed, STEP, step, self.rank))
        crops = self.images.crops(self.indices(step), self.resolution, generator, flip=self.flip)
        clean = crops.float().div_(127.5).sub_(1.0).contiguous(memory_format=torch.channels_last)
        if device.type == "cpu":
            noise = torch.randn(clean.shape, generator=generator)
        else:  # drawn where it is used: no host work or copy per step
            on_device = torch.Generator(device).manual_seed(derive_seed(self.seed, GPU_NOISE, step, self.rank))
            noise = torch.randn(clean.shape, generator=on_device, device=device)
        noise = noise.contiguous(memory_format=torch.channels_last)
        timesteps = torch.randint(0, self.timesteps, (clean.shape[0],), generator=generator).to(device)
        return clean, noise, timesteps
