"""The models that judge a text-to-image model's images (FID-style: a
network trained on the same data reads them), each the project's own,
trained once per run on the dataset's images (`unlearn.judges`):

* a classifier (`DatasetSpec.judge_classifier`): which class a generated
  image shows. On images generated from the deleted class's prompt its
  accuracy is the forget accuracy (SalUn's unlearning accuracy is 100
  minus it); on the other classes' prompts, how well they survived.
* a dual encoder (`DatasetSpec.judge_encoder`): the image-text cosine of a
  generated image and its prompt (prompt faithfulness).

Both give image features for the Fréchet distance between generated and
real images of a set (`frechet`): the classifier's pooled feature, the
encoder's image embedding; distances are comparable within one judge
only."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mmul_jax.evaluation import evaluate
from mmul_jax.evaluation import frechet

BATCH = 256  # images or texts per judge call (padded: compiled once)
# Part of a cached text-to-image evaluation's key (`unlearn.run.eval_key`):
# bump it when what the judges read changes.
VERSION = 1


@dataclasses.dataclass
class Judge:
  """One judge model: `model` (an `ImageClassifier` or `DualEncoder`) with
  `params`, reading uint8 images normalised by its data's `mean`, `std`."""

  kind: str  # "classifier" or "encoder"
  model: object
  params: object
  mean: tuple
  std: tuple

  def __post_init__(self):
    mean = jnp.asarray(self.mean, jnp.float32)
    std = jnp.asarray(self.std, jnp.float32)
    model = self.model

    def images_fn(params, images):
      x = (images.astype(jnp.float32) / 255.0 - mean) / std
      if self.kind == "classifier":
        out = model.apply(params, x, method=model.classify)
        return out["features"], jnp.argmax(out["class_logits"], -1)
      embed = model.apply(params, x, method=model.encode_image)
      return embed["image_embed"], jnp.zeros(len(x), jnp.int32)

    def text_fn(params, text):
      return model.apply(params, text, method=model.encode_text)[
          "text_embed"]

    self._images = jax.jit(images_fn)
    self._text = jax.jit(text_fn)

  def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(features (N, F), predicted class (N,))` of uint8 images."""
    feats, preds = evaluate.batched(
        lambda x: self._images(self.params, x), (np.asarray(images),), BATCH)
    return np.asarray(feats, np.float64), preds

  def text_embed(self, text: np.ndarray) -> np.ndarray:
    """An encoder's unit-norm text embeddings `(M, E)` of token ids."""
    return np.asarray(evaluate.batched(
        lambda t: self._text(self.params, t), (np.asarray(text),), BATCH),
                      np.float64)


@dataclasses.dataclass
class Judges:
  """A run's judges (either may be None) and the class of every unit the
  classifier judges against (`labels`, unit id -> class)."""

  classifier: Judge | None = None
  encoder: Judge | None = None
  labels: dict | None = None
  # What a judge read from a set's real images, by (judge kind, set):
  # the same for every model evaluated on that set.
  _real: dict = dataclasses.field(default_factory=dict, repr=False)

  def _read_real(self, judge: Judge, s) -> tuple[np.ndarray, np.ndarray]:
    key = (judge.kind, id(s.images))
    if key not in self._real:
      self._real[key] = (s.images, judge.read(np.asarray(s.images)))
    return self._real[key][1]

  @property
  def feature_judge(self) -> Judge | None:
    """The Fréchet distance's features: the classifier's, else the
    encoder's."""
    return self.classifier or self.encoder

  def assess(self, generated: np.ndarray, s, drawn: np.ndarray) -> dict:
    """What the judges read from `generated` (uint8, the images of pair
    set `s`'s pairs `drawn`): `judge_correct` (N,) whether the classifier
    sees the prompt's class, and `judge_real_correct` (one per unit)
    whether it sees the class of the set's real images (the reference:
    how well the judge reads real ones); `cosine` (N,) the encoder's
    image-text cosine; `frechet` the distance to the set's real images'
    features."""
    out, read = {}, {}
    owner = s.caption_owner[drawn]
    if self.classifier is not None:
      read["classifier"] = self.classifier.read(generated)
      classes = np.asarray([self.labels[int(i)] for i in s.image_ids])
      out["judge_correct"] = read["classifier"][1] == classes[owner]
      _, real_pred = self._read_real(self.classifier, s)
      out["judge_real_correct"] = real_pred == classes
    if self.encoder is not None:
      read["encoder"] = self.encoder.read(generated)
      text = self.encoder.text_embed(s.text[drawn])
      out["cosine"] = (read["encoder"][0] * text).sum(-1)
    judge = self.feature_judge
    if judge is not None and len(generated) >= 2 and len(s.images) >= 2:
      real, _ = self._read_real(judge, s)
      out["frechet"] = frechet.frechet_distance(read[judge.kind][0], real)
    return out
