"""A text-to-image model's passes over the evaluation sets: every pair's
denoising losses at fixed timesteps and noise (`diffusion.scoring`: the
membership score; lower for what the model trained on), and images
generated from a seeded draw of each set's captions (the same captions,
seeds and batches for every model), judged against each caption's own
image by the dataset's judge (`DatasetSpec.judge`: how much of the unit
the generated image reproduces) and by the run's judge models
(`evaluation.judges`: the class a classifier sees, the image-text cosine,
the Fréchet distance to the set's real images)."""

from __future__ import annotations

import jax
import numpy as np
from tqdm.auto import tqdm

from mmul_jax.diffusion import sampling
from mmul_jax.diffusion import scoring
from mmul_jax.evaluation import sample_grid
from mmul_jax.evaluation.evaluators import forward as forward_lib


def to_unit_range(images: np.ndarray) -> np.ndarray:
  """uint8 images to float32 in [-1, 1] (what the diffusion model reads)."""
  return np.asarray(images, np.float32) / 127.5 - 1.0


class Scorer:
  """The passes of one text-to-image model (`model`, a `TextToImageUNet`)
  under `schedule`: `batch_size` pairs at a time; `sample_steps` DDIM
  steps at `guidance` for `num_generated` pairs per set, drawn with
  `seed`; `judge` (or None) scores what they reproduce, `judges` (a
  `judges.Judges`, or None) read them."""

  def __init__(self, model, *, schedule, batch_size: int, sample_steps: int,
               guidance: float, num_generated: int, seed: int, judge=None,
               judges=None):
    self.model, self.schedule = model, schedule
    self.batch_size, self.sample_steps = batch_size, sample_steps
    self.guidance, self.num_generated = guidance, num_generated
    self.seed, self.judge, self.judges = seed, judge, judges

  def pair_images(self, s) -> np.ndarray:
    """Each pair's own image, uint8 `(M, S, S, 3)`."""
    return np.asarray(s.images)[s.caption_owner]

  def losses(self, params, s) -> np.ndarray:
    """`(M, K)` denoising losses of every pair."""
    return scoring.example_losses(
        self.model, params, to_unit_range(self.pair_images(s)), s.text,
        schedule=self.schedule, seed=self.seed, batch_size=self.batch_size)

  def drawn(self, s) -> np.ndarray:
    """The pairs whose captions are drawn (sorted; the same every call)."""
    m = len(s.text)
    rng = np.random.default_rng(self.seed)
    return np.sort(rng.permutation(m)[:min(self.num_generated, m)])

  def generate(self, params, text: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] for captions `text`, batch b from seed
    `(seed, b)`."""
    out = []
    for b, start in enumerate(range(0, len(text), self.batch_size)):
      rng = jax.random.fold_in(jax.random.key(self.seed), b)
      out.append(np.asarray(sampling.ddim_sample(
          self.model, params, text[start:start + self.batch_size], rng,
          schedule=self.schedule, num_steps=self.sample_steps,
          image_size=self.model.image_size, guidance=self.guidance)))
    size = self.model.image_size
    return (np.concatenate(out) if out
            else np.zeros((0, size, size, 3), np.float32))


def set_outputs(scorer: Scorer, params, s) -> dict:
  """One set's per-pair losses and its generated pairs' judgement."""
  losses = scorer.losses(params, s)
  out = {"losses": losses, "loss": losses.mean(-1)}
  drawn = scorer.drawn(s)
  if (scorer.judge is None and scorer.judges is None) or not len(drawn):
    return out
  images = sample_grid.to_uint8(scorer.generate(params, s.text[drawn]))
  if scorer.judge is not None:
    out["reproduction"] = np.asarray(scorer.judge(
        images, scorer.pair_images(s)[drawn]), np.float64)
  if scorer.judges is not None:
    out.update(scorer.judges.assess(images, s, drawn))
  return out


def forward(scorer: Scorer, params, sets: dict, *,
            options: forward_lib.Options, desc: str = "evaluate",
            scores: dict | None = None) -> forward_lib.Forward:
  """The passes over `sets`; the pair score by which Df is told from Dr
  is the negated mean denoising loss (higher: more like a member)."""
  outputs = {name: set_outputs(scorer, params, s) for name, s in tqdm(
      sets.items(), desc=desc, unit="set", leave=False)}
  return forward_lib.Forward(
      kind="text_to_image", sets=sets, outputs=outputs,
      pair_scores={"denoise": {k: -o["loss"] for k, o in outputs.items()}},
      params=params, model=scorer, options=options, scores=scores)


def example_scores(outputs: dict) -> dict:
  """One set's per-example scores: `loss` (the mean denoising loss),
  `denoise` (its negation) and each timestep's loss."""
  losses = np.asarray(outputs["losses"], np.float64)
  out = {"loss": losses.mean(-1), "denoise": -losses.mean(-1)}
  out.update({f"loss_t{k}": losses[:, k] for k in range(losses.shape[1])})
  return out
