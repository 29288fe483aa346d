"""The judge models' readings of generated images (`evaluation.judges`),
each against a numpy computation on tiny linear judges: the classifier's
accuracy on the prompts' classes (through each pair's unit label), the
dual encoder's image-text cosine, and the Fréchet distance between the
generated images' and the set's real images' features."""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from mmul_jax.data.core import pipeline
from mmul_jax.evaluation import frechet
from mmul_jax.evaluation import judges


class _Linear(nn.Module):
  """A linear classifier on mean colour and a linear dual encoder."""

  def setup(self):
    self.feat = nn.Dense(4)
    self.head = nn.Dense(3)
    self.tok = nn.Embed(10, 4)

  def __call__(self, images, text):
    return self.classify(images), self.encode_text(text)

  def classify(self, images):
    feats = self.feat(images.mean((1, 2)))
    return {"features": feats, "class_logits": self.head(feats)}

  def encode_image(self, images):
    e = self.feat(images.mean((1, 2)))
    return {"image_embed": e / jnp.linalg.norm(e, axis=-1, keepdims=True)}

  def encode_text(self, text):
    e = self.tok(text).sum(1)
    return {"text_embed": e / jnp.linalg.norm(e, axis=-1, keepdims=True)}


def _params(model):
  import jax
  return model.init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)),
                    jnp.zeros((1, 3), jnp.int32))


def test_judges_read_class_cosine_and_frechet_as_numpy_does():
  rng = np.random.default_rng(0)
  model = _Linear()
  params = _params(model)
  p = params["params"]
  mean, std = (0.5,) * 3, (0.25,) * 3
  norm = lambda im: (im.astype(np.float64) / 255 - 0.5) / 0.25
  real = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
  text = rng.integers(1, 10, (9, 3)).astype(np.int32)
  owner = np.array([0, 1, 2, 3, 4, 5, 0, 1, 2])
  s = pipeline.PairSet(real, np.arange(100, 106), text, owner)
  drawn = np.array([1, 4, 6, 8])
  generated = rng.integers(0, 256, (4, 4, 4, 3), dtype=np.uint8)
  labels = {100 + k: k % 3 for k in range(6)}
  j = judges.Judges(
      classifier=judges.Judge("classifier", model, params, mean, std),
      encoder=judges.Judge("encoder", model, params, mean, std),
      labels=labels)
  out = j.assess(generated, s, drawn)

  def feats(im):
    return norm(im).mean((1, 2)) @ np.asarray(p["feat"]["kernel"]) + \
        np.asarray(p["feat"]["bias"])

  f = feats(generated)
  logits = f @ np.asarray(p["head"]["kernel"]) + np.asarray(p["head"]["bias"])
  want_class = np.array([labels[100 + owner[d]] for d in drawn])
  np.testing.assert_array_equal(out["judge_correct"],
                                logits.argmax(-1) == want_class)
  fr = feats(real)
  real_logits = fr @ np.asarray(p["head"]["kernel"]) + np.asarray(
      p["head"]["bias"])
  np.testing.assert_array_equal(
      out["judge_real_correct"],
      real_logits.argmax(-1) == np.array([labels[100 + k] for k in range(6)]))
  t = np.asarray(p["tok"]["embedding"])[text[drawn]].sum(1)
  cos = ((f / np.linalg.norm(f, axis=-1, keepdims=True))
         * (t / np.linalg.norm(t, axis=-1, keepdims=True))).sum(-1)
  np.testing.assert_allclose(out["cosine"], cos, rtol=1e-4, atol=1e-5)
  # The classifier's features (it is the first feature judge) against
  # every real image of the set.
  np.testing.assert_allclose(
      out["frechet"], frechet.frechet_distance(f, feats(real)), rtol=1e-3)
  # A judge of a class the prompts do not name is right nowhere.
  wrong = {k: (v + 1) % 3 for k, v in labels.items()}
  out2 = judges.Judges(classifier=j.classifier, labels=wrong).assess(
      generated, s, drawn)
  assert not (out2["judge_correct"] & out["judge_correct"]).any()
  assert "cosine" not in out2
