"""Text-to-image generation (MU-Bench's text-to-image task; SalUn's and
concept erasure's diffusion setting): a text-conditioned diffusion UNet
(`model.arch = "unet"`, `models.unet`) trained on image-caption pairs
(`{"image", "text", "image_id"}` batches, images in [-1, 1]) with the
denoising loss: a timestep and noise drawn per example from the step's
rng, the caption replaced by the null context for `model.cfg_dropout` of
the rows (classifier-free guidance).

Evaluation (`evaluation.text_to_image`): every pair's denoising loss at
fixed timesteps and noise (the membership score: the Df-vs-Dr AUC by
it, `auc/denoise`, and the scores file), and images generated from a
seeded draw of each set's captions, judged by the dataset's judge
(`reproduction`, %: on the embedded shapes set, the share of the item's
colour-code blocks drawn, which only memorising the item gives; chance
25) and by the judge models trained on the same data
(`evaluation.judges`, `unlearn.judges`): a classifier's accuracy on the
prompts' classes (`judge_accuracy`: at class level, on Df, the forget
accuracy; SalUn's UA is 100 minus it), a dual encoder's image-text
`cosine`, and the Fréchet distance to the set's real images on a judge's
features (`frechet`). Methods: those built on the task loss (finetune, neggrad,
neggrad_plus, l1_sparse, retrain) and NPO on the per-example denoising
loss against the original's at the same timestep and noise; the methods
that compare logits are refused. MMUL is refused (its terms are
retrieval's).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax import errors
from mmul_jax import losses
from mmul_jax import models
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.diffusion import sampling
from mmul_jax.diffusion import schedule as schedule_lib
from mmul_jax.evaluation import evaluators
from mmul_jax.evaluation import example_scores
from mmul_jax.evaluation import report
from mmul_jax.evaluation import sample_grid
from mmul_jax.evaluation import text_to_image as t2i_eval
from mmul_jax.tasks import base
from mmul_jax.tasks import model_terms

SAMPLES_FILE = "samples.png"
GRID_DF, GRID_TEST = 6, 2  # the sample grid's prompts of each set

def schedule_of(model_config) -> schedule_lib.Schedule:
  """The model's noise schedule (`model.noise_schedule`, `diffusion_steps`,
  `prediction`)."""
  m = dict(model_config)
  return schedule_lib.Schedule(m["noise_schedule"], m["diffusion_steps"],
                               m["prediction"])


class TextToImage(base.Task):
  """Denoising-loss training; the Df-vs-Dr AUC by the denoising loss and
  the judge's reproduction of generated images."""

  name = "text_to_image"
  score = "reproduction"
  score_metric = "reproduction"
  outputs = "text_to_image"
  evals = ("text_to_image", "deletion_auc")
  aucs = ("auc/denoise",)
  changes = ("test/denoise_loss",)
  representations = (
      example_scores.Representation("loss", "denoising loss", "loss"),)
  # The Fréchet distance is in its judge's feature units, not a fraction:
  # it stays out of the headline (whose mean gap to retraining averages
  # fractions) and shows in the table.
  headline = (
      base.Metric("test/denoise_loss", "test denoising loss", 1, "lower"),
      base.Metric("df/denoise_loss", "Df denoising loss"),
      base.Metric("dr/denoise_loss", "Dr denoising loss", 1, "lower"),
      base.Metric("test/reproduction", "test reproduction", 100, "higher"),
      base.Metric("df/reproduction", "Df reproduction", 100),
      base.Metric("dr/reproduction", "Dr reproduction", 100, "higher"),
      base.Metric("test/judge_accuracy", "test judge accuracy", 100,
                  "higher"),
      base.Metric("df/judge_accuracy", "Df judge accuracy", 100),
      base.Metric("dr/judge_accuracy", "Dr judge accuracy", 100, "higher"),
      base.Metric("test/cosine", "test image-text cosine", 1, "higher"),
      base.Metric("auc/denoise/mean", "AUC denoise"))
  has_logits = False
  judges = None
  _judges_set = False

  def __init__(self, spec):
    super().__init__(spec)
    if spec.judge is None:  # class level: the judge classifier's accuracy
      self.score, self.score_metric = "judge accuracy", "judge_accuracy"

  def set_judges(self, judges) -> None:
    """The run's judge models (`evaluation.judges.Judges`, or None for a
    run without them), from `unlearn.judges.prepare`."""
    self.judges, self._judges_set = judges, True

  @property
  def num_classes(self) -> int:
    return 0

  def build_model(self, model_config):
    self.schedule = schedule_of(model_config)
    self.cfg_dropout = float(dict(model_config)["cfg_dropout"])
    return models.build(model_config, text_to_image=True)

  def init_params(self, model, config, seed: int):
    s = model.image_size
    text = base.zeros_text(config.model)
    return jax.jit(model.init)(
        jax.random.key(seed), jnp.zeros((1, s, s, 3)),
        jnp.zeros((1,), jnp.int32), jnp.asarray(text), jnp.zeros((1,), bool))

  def model_inputs(self, batch):
    return batch["image"], batch["text"]

  def example_losses(self, model):
    """`fn(params, batch, rng) -> (B,)`: each row's denoising loss at a
    timestep, noise and caption dropout drawn from `rng` (two calls with
    one rng compare two models on the same draw: NPO)."""
    schedule, dropout = self.schedule, self.cfg_dropout

    def fn(params, batch, rng, train: bool = True):
      x0 = batch["image"]
      b = x0.shape[0]
      kt, kn, kd = jax.random.split(rng, 3)
      t = schedule_lib.sample_timesteps(kt, b, schedule.num_steps)
      noise = jax.random.normal(kn, x0.shape, jnp.float32)
      drop = (jax.random.uniform(kd, (b,)) < dropout if train
              else jnp.zeros((b,), bool))
      predict = lambda x_t, tt: model.apply(params, x_t, tt, batch["text"],
                                            drop)
      return schedule_lib.denoising_loss(schedule, predict, x0, t, noise)

    return fn

  def esd_term(self, model, *, eta: float):
    """ESD's negative-guidance term (`methods.esd`) on a flat batch: the
    model's prediction for the caption against the original's null
    prediction guided away from it by `eta`, at a drawn timestep and
    noise; per-example mean squared error."""
    schedule = self.schedule

    def term(params, frozen, batch, *, rng):
      x0, text = batch["image"], batch["text"]
      b = x0.shape[0]
      kt, kn = jax.random.split(rng)
      t = schedule_lib.sample_timesteps(kt, b, schedule.num_steps)
      x_t = schedule.noisy(x0, t, jax.random.normal(kn, x0.shape))
      cond, null = sampling.cond_and_null(
          model, frozen[model_terms.ORIGINAL], x_t, t, text)
      target = jax.lax.stop_gradient(null - eta * (cond - null))
      out = model.apply(params, x_t, t, text, jnp.zeros((b,), bool))
      err = ((out - target) ** 2).reshape(b, -1).mean(-1)
      return err, {"esd": jnp.mean(err)}

    return losses.loss_term(term)

  def training_loss(self, model, *, itm_weight=1.0, axis_name=None):
    del itm_weight, axis_name  # no matching head, no in-batch negatives
    fn = self.example_losses(model)

    def loss_fn(params, batch, rng: jax.Array):
      values = fn(params, batch, rng)
      return values, {"denoise": jnp.mean(values)}

    return loss_fn

  def logit_views(self, model, *, axis_name=None):
    del model, axis_name
    raise errors.ConfigError(
        "a text-to-image model has no logits: the methods that compare "
        "them (SCRUB, Bad Teaching, DELETE, ...) do not run on it")

  def _scorer(self, model, config, *,
              judged: bool = True) -> t2i_eval.Scorer:
    """The evaluation's passes; `judged`: with the judge models (the
    metrics), which must be prepared first."""
    e = config.eval
    if judged and not self._judges_set and e.judges and (
        self.spec.judge_classifier or self.spec.judge_encoder):
      raise RuntimeError("the run's judges are not prepared: call "
                         "unlearn.judges.prepare(exp) before evaluating")
    return t2i_eval.Scorer(
        model, schedule=self.schedule, batch_size=e.batch_size,
        sample_steps=e.sample_steps, guidance=float(e.guidance),
        num_generated=e.num_generated, seed=e.auc_seed,
        judge=self.spec.judge, judges=self.judges if judged else None)

  def evaluator(self, model, config):
    scorer = self._scorer(model, config)
    options = evaluators.Options(auc_num_samples=config.eval.auc_num_samples,
                                 auc_seed=config.eval.auc_seed)
    names = self.evals + tuple(config.eval.extra_metrics)
    return lambda params, sets, desc, scores=None: evaluators.run(
        names, t2i_eval.forward(scorer, params, sets, options=options,
                                desc=desc, scores=scores))

  def example_scorer(self, model, config):
    scorer = self._scorer(model, config, judged=False)
    return lambda params, sets: {
        name: t2i_eval.example_scores(
            {"losses": scorer.losses(params, s)})
        for name, s in sets.items()}

  def write_artifacts(self, exp, models, directories):
    """`samples.png`: each model's images for the same Df captions (the
    first `GRID_DF`) and held-out ones (`GRID_TEST`), the same seeds."""
    sets = exp.eval_sets
    picks = [(sets["df"], GRID_DF), (sets["test"], GRID_TEST)]
    text = np.concatenate([s.text[:n] for s, n in picks])
    special = {exp.tokenizer.token_to_id(t)
               for t in tokenizer_lib.SPECIAL_TOKENS}
    prompts = [f"{'Df' if s is sets['df'] else 'test'}: "
               + exp.tokenizer.decode([int(t) for t in row
                                       if int(t) not in special])
               for s, n in picks for row in s.text[:n]]
    scorer = self._scorer(exp.model, exp.config, judged=False)
    rows = {name: scorer.generate(params, text)
            for name, params in models.items()}
    title = (f"{exp.config.method.name} on {exp.dataset_name}: "
             f"{exp.config.eval.sample_steps} DDIM steps, guidance "
             f"{exp.config.eval.guidance:g}")
    for directory in directories:
      sample_grid.save(os.path.join(directory, SAMPLES_FILE), rows, prompts,
                       title=title)

  def overall_score(self, metrics, original, *, max_dt_drop):
    """On fractions: (Dr score + 1 - Df score) / 2 (`split_scores`), 0
    when the test denoising loss rose more than `max_dt_drop` relative to
    the original's (the guard rail of the other tasks' score)."""
    test, before = metrics["test/denoise_loss"], original["test/denoise_loss"]
    if test > before * (1.0 + max_dt_drop):
      return 0.0
    scores = self.split_scores(metrics)
    return float((scores["dr"] + 100.0 - scores["df"]) / 200.0)

  def split_scores(self, metrics: dict) -> dict:
    """The score per split: the exact judge's reproduction where the
    dataset has one, else the judge classifier's accuracy."""
    return {s: metrics.get(f"{s}/{self.score_metric}", float("nan"))
            for s in ("test", "df", "dr")}

  def table(self, results):
    # A metric not computed formats as "n/a" (`report.model_columns`).
    fmt = lambda key, digits: lambda m: f"{m[key]:.{digits}f}"
    columns = [(f"{s} loss", fmt(f"{s.lower()}/denoise_loss", 4))
               for s in ("test", "Df", "Dr")]
    # The judges' columns where the dataset has that judge (a metric it
    # has not is NaN, or None in a results file read back).
    first = report.table_metrics(next(iter(results.models.values())).metrics)
    for key, title, digits, splits in (
        ("reproduction", "reproduction", 1, ("Df", "Dr", "test")),
        ("judge_accuracy", "judge acc", 1, ("Df", "Dr", "test")),
        ("judge_real_accuracy", "judge acc (real)", 1, ("test",)),
        ("frechet", "FD", 3, ("Df", "Dr", "test")),
        ("cosine", "cosine", 3, ("Df", "test"))):
      if any(np.isfinite(first.get(f"{s.lower()}/{key}",
                                   report.NOT_COMPUTABLE)) for s in splits):
        columns += [(f"{s} {title}", fmt(f"{s.lower()}/{key}", digits))
                    for s in splits]
    columns = report.model_columns(
        *columns,
        ("AUC denoise", lambda m: report.mean_std(m, "auc/denoise")))
    d, s = results.deletion, results.summary
    return "\n".join(report.render(columns, list(results.models.items())) + [
        "",
        f"Df = {d.num_forget_units} units ({d.ratio:g}% of train, "
        f"{d.num_forget_examples} image-caption pairs), seed {d.seed}, "
        f"sha256 {d.sha256[:12]}",
        f"{results.method}: the Df-vs-Dr AUC moved "
        f"{report.percent(s['progress/auc/denoise'])} of the way from "
        "original to retrained; the test denoising loss changed by "
        f"{s['change/test/denoise_loss']:+.4f}.",
        "Loss: the mean denoising loss at fixed timesteps and noise (lower: "
        "more like training data). Reproduction: how much of each drawn "
        "pair's own image the image generated from its caption reproduces, "
        "by the dataset's judge, in % (shapes: the colour-code blocks, "
        "chance 25). Judge acc: the share of generated images a classifier "
        "trained on the same data puts in their prompt's class, in % (Df's "
        "at class level: the forget accuracy; SalUn's UA = 100 - it; "
        "(real): on the split's real images, the judge's own accuracy). FD: "
        "the Fréchet distance of generated to the set's real images on a "
        "judge's features; cosine: a dual encoder's image-prompt cosine "
        "(both judges trained on D). AUC: retained (1) vs deleted (0) pairs "
        "by the negated "
        "denoising loss, mean ± std over "
        f"{base.auc_samples(results)} disjoint Dr samples of size |Df|."])

