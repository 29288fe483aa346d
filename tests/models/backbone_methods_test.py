"""Every method through the one loop on the papers' backbones: BLIP's and
ALBEF's retrieval models, ViLT's and ALBEF's two-image classifiers
(NLVR2), BERT's text classifier, the ViT and ResNet image classifiers,
HuBERT's keyword spotter and VideoMAE (every general method: MMUL needs
two modalities), from the tiny random checkpoints of tests/fixtures
(blip_golden, albef_golden, vilt_golden, bert_golden, vit_golden,
resnet_golden, speech_golden, videomae_golden), trained briefly
into an original and unlearned by each method, in full and with LoRA
adapters (`unlearn.lora_rank`), and with bf16 compute. The default suite
runs MMUL with LoRA on ViLT; the slow suite runs the rest. The ResNet's
batch-norm statistics stay the original's under every method."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import vit_checkpoints
from flax import traverse_util

from mmul_jax import errors
from mmul_jax import experiment
from mmul_jax import methods
from mmul_jax import recipes
from mmul_jax.pretrained import albef_weights
from mmul_jax.pretrained import bert_weights
from mmul_jax.pretrained import blip_weights
from mmul_jax.pretrained import resnet_weights
from mmul_jax.pretrained import vilt_weights
from mmul_jax.pretrained import vit_weights
from mmul_jax.unlearn import phases

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fixtures")
BLIP = os.path.join(FIXTURES, "blip_golden", "hf")
VILT = os.path.join(FIXTURES, "vilt_golden", "nlvr2", "hf")
ALBEF = os.path.join(FIXTURES, "albef_golden", "retrieval", "albef.pth")
ALBEF_NLVR = os.path.join(FIXTURES, "albef_golden", "nlvr", "albef_nlvr.pth")
BERT = os.path.join(FIXTURES, "bert_golden", "bert")
RESNET = os.path.join(FIXTURES, "resnet_golden", "basic")
HUBERT = os.path.join(FIXTURES, "speech_golden", "hubert")
VIDEOMAE = os.path.join(FIXTURES, "videomae_golden", "mean")
# Relabelling draws wrong classes (no captions in the NLVR2-style data).
_LABELS = {"method.randlabel.target": "labels",
           "method.salun.target": "labels"}
ARCHS = {
    "albef": dict(dataset="shapes_captions", checkpoint=ALBEF,
                  keys=albef_weights.model_keys, extra={"eval.rerank_k": 4}),
    "bert": dict(dataset="reviews", checkpoint=BERT,
                 keys=bert_weights.model_keys,
                 # The tiny config's MMUL needs two modalities.
                 extra={**_LABELS, "method.name": "neggrad"}),
    "hubert": dict(dataset="tone_commands", checkpoint=HUBERT,
                   keys=lambda path: {}, extra={**_LABELS,
                                                "method.name": "neggrad"}),
    "videomae": dict(dataset="moving_shapes", checkpoint=VIDEOMAE,
                     keys=lambda path: {"image_size": 16}, extra={
                         **_LABELS, "method.name": "neggrad",
                         "data.image_size": 16, "data.num_frames": 4}),
    "resnet": dict(dataset="shapes_cifar", checkpoint=RESNET,
                   keys=resnet_weights.model_keys,
                   extra={**_LABELS, "method.name": "neggrad"}),
    # The 10-class golden ViT as the in21k `ViTModel` backbone (32 classes
    # here), at its 32 pixels.
    "vit": dict(dataset="shapes_cifar", checkpoint=vit_checkpoints.backbone,
                keys=vit_weights.model_keys,
                extra={**_LABELS, "method.name": "neggrad",
                       "data.mean": (0.5,) * 3, "data.std": (0.5,) * 3}),
    "blip": dict(dataset="shapes_captions", checkpoint=BLIP,
                 keys=blip_weights.model_keys, extra={"eval.rerank_k": 4}),
    "albef_nlvr2": dict(arch="albef", dataset="shapes_nlvr2",
                        checkpoint=ALBEF_NLVR, keys=albef_weights.model_keys,
                        extra=_LABELS),
    "vilt": dict(dataset="shapes_nlvr2", checkpoint=VILT,
                 keys=vilt_weights.model_keys, extra={
                     "data.mean": (0.5,) * 3, "data.std": (0.5,) * 3,
                     **_LABELS}),
}


@pytest.fixture(scope="module")
def arch(request, tiny_config, data_dir, tmp_path_factory):
  """`(make, original)`: `make(**changes)` sets up a run on the arch's
  tiny checkpoint; `original` its briefly trained original."""
  a = ARCHS[request.param]
  workdir = tmp_path_factory.mktemp(request.param)
  checkpoint = a["checkpoint"]
  if callable(checkpoint):
    checkpoint = checkpoint(tmp_path_factory.mktemp("ckpt"))

  def make(**changes):
    c = tiny_config.copy_and_resolve_references()
    c.data.data_dir = data_dir
    c.data.name = a["dataset"]
    c.model.arch = a.get("arch", request.param)
    c.model.pretrained = checkpoint
    c.model.update(a["keys"](checkpoint))
    c.model.context_length = 12
    c.train.num_steps = 2
    c.unlearn.num_steps = 2
    # SCRUB's first (max) step meets a zero gradient at the original.
    c.method.scrub.update(period=2, max_steps=1)
    c.tensorboard = False
    c.update_from_flattened_dict({**a["extra"], **changes})
    return experiment.setup(c, str(workdir))

  original, _ = phases.train_model(make(), "original")
  return request.param, make, original


def _finite(tree):
  return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def _changed(a, b):
  return max(float(jnp.max(jnp.abs(x - y)))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


_DEFAULT = {("vilt", "mmul", "lora")}
_UNIMODAL = ("bert", "hubert", "resnet", "videomae", "vit")
CASES = [pytest.param(which, name, variant, marks=() if (
    which, name, variant) in _DEFAULT else pytest.mark.slow)
         for which in sorted(ARCHS) for name in sorted(methods.METHODS)
         for variant in ("full", "lora")
         if not (variant == "lora" and name == "retrain")  # every weight
         and not methods.get(name).kinds  # the language-model methods
         and not (which in _UNIMODAL and name in ("mmul", "mmul_plus"))]


@pytest.mark.parametrize("arch,name,variant", CASES, indirect=["arch"],
                         scope="module")
def test_every_method_on_the_backbone(arch, name, variant):
  which, make, original = arch
  changes = {"method.name": name}
  if variant == "lora":
    changes["unlearn.lora_rank"] = 2
    if methods.get(name).full_weight:  # a mask or noise on every weight
      with pytest.raises(errors.ConfigError,
                         match="cannot train LoRA adapters"):
        make(**changes)
      return
  exp = make(**changes)
  params, info = phases.unlearn_model(exp, original)
  assert _finite(params)
  assert _changed(params, original) > 0
  if "batch_stats" in params:  # the ResNet's: frozen under every method
    jax.tree.map(np.testing.assert_array_equal, params["batch_stats"],
                 original["batch_stats"])
  if name != "retrain":
    assert info["history"] and np.isfinite(info["history"][-1]["loss"])
  if variant == "lora":
    _check_low_rank(params, original)


def _check_low_rank(params, original):
  """LoRA moved only 2-D kernels (attention, MLP, heads), each by a delta
  of rank at most 2; biases, LayerNorms and embeddings stay."""
  new = traverse_util.flatten_dict(params["params"])
  old = traverse_util.flatten_dict(original["params"])
  moved = 0
  for path, x in new.items():
    delta = np.asarray(x, np.float64) - np.asarray(old[path], np.float64)
    if path[-1] == "kernel" and delta.ndim == 2:
      assert np.linalg.matrix_rank(delta, tol=1e-6) <= 2, path
      moved += bool(np.any(delta))
    else:
      assert not np.any(delta), path
  assert moved > 0


@pytest.mark.slow  # each a brief unlearning run on a tiny backbone
@pytest.mark.parametrize("arch,percent", [
    ("bert", 10), ("bert", 20), ("bert", 50), ("hubert", 10), ("vit", 20),
    ("videomae", 50)], indirect=["arch"], scope="module")
def test_mubench_lora_settings(arch, percent):
  """`recipes.mubench_lora`: adapters on the query and value projections
  at the rank giving MU-Bench's share of trainable parameters, the
  classifier trained whole, nothing else moving."""
  which, make, original = arch
  targets, full = recipes.MUBENCH_LORA[which]
  exp = make(**{"method.name": "neggrad", "unlearn.lora_rank": 0,
                "unlearn.lora_fraction": percent / 100,
                "unlearn.lora_targets": targets, "unlearn.lora_full": full,
                "unlearn.lora_alpha": 0.0})
  params, info = phases.unlearn_model(exp, original)
  assert _finite(params)
  assert abs(info["trainable_fraction"] - percent / 100) < 0.03, info
  new = traverse_util.flatten_dict(params["params"])
  old = traverse_util.flatten_dict(original["params"])
  moved = {p[-2] for p, x in new.items() if np.any(x != old[p])}
  assert moved and moved <= set(targets) | set(full), moved
  assert set(full) <= {p[-2] for p in new if any(m in p for m in full)}
