"""Diffusion for text-to-image unlearning: the noise schedule and the
training target (`schedule`), the jitted DDIM sampler with
classifier-free guidance (`sampling`)."""

from mmul_jax.diffusion.sampling import ddim_sample
from mmul_jax.diffusion.schedule import Schedule

__all__ = ["Schedule", "ddim_sample"]
