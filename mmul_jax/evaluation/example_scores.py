"""Per-example scores of one model on the eval sets: what every
retrain-referenced metric (`retrain_referenced`, `leakage`) is computed
from, saved beside results so any metric can be recomputed later.

A task names its representations (`Representation`): scalar scores
(pair cosine, matching probability, p(true label), loss) and vectors
(unimodal embeddings, the fusion [CLS], class logits). A vector is
audited by its cosine to the same seed's original model on the same
example: how much of the original's representation is left, which needs
the auditor to hold the original (the model owner or a regulator does).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

KINDS = ("score", "probability", "loss", "vector")


class Representation(NamedTuple):
  """One thing a model computes per example.

  name: its key in the scores; title: for tables; kind: "score" (higher
  looks more like a training member), "probability" (a score in [0, 1],
  tested as a logit), "loss" (lower looks like a member) or "vector"
  (`(N, D)`, audited by its cosine to the original model's).
  """

  name: str
  title: str
  kind: str


def retrieval_representations(unimodal: str = "image") -> tuple:
  """Image-text (or graph-text, `unimodal="graph"`) retrieval's."""
  return (Representation("image", f"{unimodal} embedding", "vector"),
          Representation("text", "text embedding", "vector"),
          Representation("cosine", "pair cosine", "score"),
          Representation("match", "matching head", "probability"),
          Representation("fusion", "fusion [CLS]", "vector"))


CLASSIFICATION = (Representation("image", "image embedding", "vector"),
                  Representation("text", "text embedding", "vector"),
                  Representation("fusion", "fusion [CLS]", "vector"),
                  Representation("logits", "class logits", "vector"),
                  Representation("p_true", "p(true label)", "probability"),
                  Representation("loss", "loss", "loss"))

UNIMODAL = (Representation("features", "pooled features", "vector"),
            Representation("logits", "class logits", "vector"),
            Representation("p_true", "p(true label)", "probability"),
            Representation("loss", "loss", "loss"))


def retrieval_set(img: dict, txt: dict, match: dict,
                  caption_owner) -> dict:
  """One set's scores from its encodings (`Embedder.images`, `.texts` and
  `.match` of the aligned pairs): per unit the image (or graph)
  embedding, per pair the text embedding, the pair cosine, the matching
  probability and the fusion [CLS], and `caption_owner` (each pair's
  unit)."""
  owner = np.asarray(caption_owner)
  return {"image": img["image_embed"], "text": txt["text_embed"],
          "cosine": np.sum(img["image_embed"][owner] * txt["text_embed"],
                           axis=-1),
          "match": match["prob"], "fusion": match["cls"],
          "caption_owner": owner}


def retrieval(embedder, params, sets: dict) -> dict:
  """`{set: retrieval_set(...)}` for a dual encoder (`Embedder`)."""
  out = {}
  for name, s in sets.items():
    img = embedder.images(params, s.images)
    txt = embedder.texts(params, s.text)
    match = embedder.match(params, img, s.caption_owner, txt,
                           np.arange(len(s.caption_owner)))
    out[name] = retrieval_set(img, txt, match, s.caption_owner)
  return out


def classification_set(outputs: dict, labels) -> dict:
  """One set's scores from a classifier's outputs (`Classifier.outputs`):
  per example the class logits, p(true label), the cross-entropy and the
  vectors the model exposes (fusion [CLS], image and text embeddings, or
  pooled features)."""
  labels = np.asarray(labels)
  logits = np.asarray(outputs["class_logits"], np.float64)
  logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
  logp = logp[np.arange(len(labels)), labels]
  scores = {"logits": logits.astype(np.float32), "p_true": np.exp(logp),
            "loss": -logp, "label": labels}
  for key, rep in (("fusion_cls", "fusion"), ("image_embed", "image"),
                   ("text_embed", "text"), ("features", "features")):
    if key in outputs:
      scores[rep] = np.asarray(outputs[key]).reshape(len(labels), -1)
  return scores


def classification(classifier, params, sets: dict) -> dict:
  """`{set: classification_set(...)}` for a `Classifier`."""
  return {name: classification_set(classifier.outputs(params, s), s.labels)
          for name, s in sets.items()}


def self_similarity(vectors: np.ndarray, original: np.ndarray) -> np.ndarray:
  """Row-wise cosine between a model's vectors and the original's,
  rounded to 10 decimals: differences below that are rounding, and would
  otherwise rank identical vectors by float noise."""
  a = np.asarray(vectors, np.float64)
  b = np.asarray(original, np.float64)
  norm = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
  return np.round(np.sum(a * b, axis=-1) / np.maximum(norm, 1e-12), 10)


def unit_means(values, owner, num_units: int) -> np.ndarray:
  """The mean of per-example `values` over each unit's examples (`owner`:
  each example's unit, an index below `num_units`); 0 for a unit with
  none."""
  owner = np.asarray(owner)
  total = np.bincount(owner, weights=np.asarray(values, np.float64),
                      minlength=num_units)
  return total / np.maximum(np.bincount(owner, minlength=num_units), 1)


def member_score(rep: Representation, scores: dict,
                 original: dict | None) -> np.ndarray:
  """The scalar of `rep` per example, oriented so that higher looks more
  like a training member: the score itself, minus the loss, or a vector's
  cosine to the original model's (`original`: the original's scores on
  the same set)."""
  if rep.kind not in KINDS:
    raise ValueError(f"unknown representation kind {rep.kind!r}")
  x = scores[rep.name]
  if rep.kind == "vector":
    if original is None:
      raise ValueError(f"{rep.name!r} is a vector: it needs the original "
                       "model's scores to compare against")
    return self_similarity(x, original[rep.name])
  return -np.asarray(x, np.float64) if rep.kind == "loss" else np.asarray(
      x, np.float64)
