"""ALBEF parity without torch (retrieval; the SNLI-VE and NLVR2
classifiers at the end): a random tiny ALBEF checkpoint in
LAVIS's layout (a wrapped `.pth` with a momentum tensor, the queues and
`temp`; tests/fixtures/albef_golden, written by
tests/fixtures/make_albef_golden.py) must give, through our torch-free
reader, importer, tokenizer and `models.albef.AlbefRetrieval`, what
ALBEF's architecture assembled from transformers' modules computed: image
tokens, the text layers' and the fusion layers' [CLS], ITC cosine scores
and ITM logits, to 1e-4 (float32). No ALBEF implementation installs here,
so the tensor names are checked against LAVIS's source as read, not
against a released file."""

import functools
import os

import albef_checkpoints
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmul_jax import errors
from mmul_jax.data.core import tokenizer as tokenizer_lib
from mmul_jax.models import albef
from mmul_jax.pretrained import albef_weights

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "fixtures", "albef_golden")
CKPT = os.path.join(GOLDEN, "retrieval", "albef.pth")
TOL = dict(rtol=1e-4, atol=1e-4)


@functools.lru_cache(maxsize=None)
def _template(image_size=None):
  """The model of the golden checkpoint (at `image_size`, default the
  checkpoint's) and its initial parameters."""
  config = albef_weights.model_config(CKPT)
  config.pop("num_classes")  # None: a retrieval checkpoint
  if image_size:
    config["image_size"] = image_size
  model = albef.AlbefRetrieval(
      **config, eot_id=albef_weights.model_keys(CKPT)["eot_id"])
  golden = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
  size = model.image_size
  params = jax.jit(model.init)(
      jax.random.key(0), np.zeros((1, size, size, 3), np.float32),
      golden["ids"][:1])["params"]
  return model, jax.tree.map(np.asarray, params), golden


def _passes(m, images, ids):
  img = m.encode_image(images)
  txt = m.encode_text(ids)
  fused = m.fuse(img["image_tokens"], txt["text_tokens"], txt["text_mask"])
  return img, txt, fused, m(images, ids)


def _model_and_params(path=CKPT):
  model, params, golden = _template()
  return model, albef_weights.import_params(params, path), golden


def test_import_matches_the_reference():
  model, params, golden = _model_and_params()
  tok = tokenizer_lib.from_checkpoint(CKPT, 16)
  ids = tokenizer_lib.encode(tok, [str(t) for t in golden["texts"]])
  np.testing.assert_array_equal(ids, golden["ids"])
  img, txt, fused, whole = jax.jit(lambda p: model.apply(
      {"params": p}, golden["images"], golden["ids"], method=_passes))(
          params)
  np.testing.assert_array_equal(txt["text_mask"], golden["mask"])
  np.testing.assert_allclose(img["image_tokens"], golden["image_tokens"],
                             **TOL)
  np.testing.assert_allclose(txt["text_tokens"][:, 0], golden["text_cls"],
                             **TOL)
  np.testing.assert_allclose(img["image_embed"] @ txt["text_embed"].T,
                             golden["itc_scores"], **TOL)
  np.testing.assert_allclose(fused["fusion_cls"], golden["fusion_cls"],
                             **TOL)
  np.testing.assert_allclose(fused["itm_logits"], golden["itm_logits"],
                             **TOL)
  np.testing.assert_allclose(whole["itm_logits"], golden["itm_logits"],
                             **TOL)
  # temp 0.05 is a logit scale of 20.
  np.testing.assert_allclose(np.exp(params["logit_scale"]), 20.0, rtol=1e-5)


def test_the_architecture_comes_from_the_shapes():
  c = albef_weights.model_config(CKPT)
  assert (c["text_layers"], c["fusion_layers"]) == (1, 1)
  assert (c["vision_width"], c["text_width"], c["embed_dim"]) == (32, 48, 16)
  assert (c["image_size"], c["patch_size"], c["context_length"]) == (32, 8,
                                                                     16)
  assert (c["vision_heads"], c["text_heads"]) == (4, 4)  # config.json


def test_another_image_size_resizes_the_positions_as_torch():
  """The checkpoint's 4x4 grid read at 40 pixels (5x5) is torch's bicubic
  interpolation of it, as ALBEF loads its 256-pixel pretrained model at
  384."""
  model, params, golden = _template(40)
  loaded = albef_weights.import_params(params, CKPT)
  pos = loaded["visual_encoder"]["pos_embed"]
  np.testing.assert_allclose(pos[:, 1:], golden["pos_embed_5x5"], rtol=1e-5,
                             atol=1e-6)
  state = albef_weights.read_state(CKPT)
  np.testing.assert_array_equal(pos[:, 0],
                                state["visual_encoder.pos_embed"][:, 0])


def _rewritten(tmp_path, change):
  return albef_checkpoints.rewritten(tmp_path / "ckpt", change)


def test_the_pretrained_layout_imports_to_the_same_model(tmp_path):
  """ALBEF.pth's layout: `text_encoder.bert.` names, a masked-LM head and
  a token-type embedding (folded into the positions: the same
  embeddings)."""
  def pretrained(state):
    for k in [k for k in state if k.startswith("text_encoder.")]:
      state[k.replace("text_encoder.", "text_encoder.bert.")] = state.pop(k)
    types = np.random.default_rng(0).normal(size=(2, 48)).astype(
        np.float32)
    state["text_encoder.bert.embeddings.token_type_embeddings.weight"] = (
        types)
    positions = "text_encoder.bert.embeddings.position_embeddings.weight"
    state[positions] = state[positions] - types[0]
    state["text_encoder.cls.predictions.bias"] = np.zeros(50, np.float32)

  model, params, golden = _model_and_params()
  model, other, _ = _model_and_params(_rewritten(tmp_path, pretrained))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
               params, other)


@pytest.mark.parametrize("change,match", [
    (lambda s: s.pop("itm_head.bias"), "no tensor for 1 parameter"),
    (lambda s: s.update({"text_proj.weight": s["text_proj.weight"][:, :8]}),
     r"'text_proj.weight' has shape \(16, 8\)"),
    (lambda s: s.update({"itm_head.bias": s["itm_head.bias"].astype(
        np.int32)}), "'itm_head.bias' has dtype int32"),
    (lambda s: s.update({"temp": np.array(-1.0, np.float32)}),
     "'temp' is .*not a positive scalar"),
    (lambda s: s.pop("vision_proj.weight"), "no tensor for 1 parameter"),
])
def test_a_mismatched_checkpoint_is_one_line_naming_the_tensor(
    tmp_path, change, match):
  path = _rewritten(tmp_path, change)
  with pytest.raises(errors.CheckpointError, match=match):
    _model_and_params(path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
  path = tmp_path / "albef.pth"
  path.write_bytes(open(CKPT, "rb").read()[:5000])
  with pytest.raises(errors.CheckpointError, match="torch.save file|corrupt"):
    albef_weights.read_state(str(path))


def _classifier(**changes):
  config = {**albef_weights.model_config(CKPT), **changes}
  config.pop("embed_dim")
  return albef.AlbefClassifier(
      **{**config, "num_classes": 3},
      eot_id=albef_weights.model_keys(CKPT)["eot_id"])


def test_the_snli_ve_classifier_matches_the_reference(tmp_path):
  """The fusion [CLS] through Linear, ReLU, Linear gives the reference's
  logits; a pretrained checkpoint (no cls_head) loads as its backbone."""
  path = albef_checkpoints.ve_checkpoint(tmp_path / "ve")
  assert albef_weights.model_config(path)["num_classes"] == 3
  model = _classifier()
  golden = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
  images = golden["images"][:, None]
  init = jax.jit(functools.partial(model.init, method=model.classify))
  params = jax.tree.map(np.asarray, init(jax.random.key(0), images[:1],
                                         golden["ids"][:1])["params"])
  loaded = albef_weights.import_params(params, path)
  out = jax.jit(lambda p: model.apply({"params": p}, images, golden["ids"],
                                      method=model.classify))(loaded)
  np.testing.assert_allclose(out["fusion_cls"], golden["fusion_cls"], **TOL)
  np.testing.assert_allclose(out["class_logits"], golden["ve_logits"], **TOL)
  assert out["image_embed"].shape == (3, 1, 32)
  backbone = albef_weights.import_params(params, CKPT)
  np.testing.assert_array_equal(backbone["cls_head_2"]["kernel"],
                                params["cls_head_2"]["kernel"])
  np.testing.assert_array_equal(
      backbone["visual_encoder"]["norm"]["scale"],
      loaded["visual_encoder"]["norm"]["scale"])


@pytest.mark.slow  # two more compilations (default-suite time)
def test_bfloat16_compute_stays_close():
  """bf16 compute with float32 parameters: retrieval embeddings and ITM
  logits within 0.05 of float32 (measured: 0.008 and 0.017)."""
  model, params, golden = _model_and_params()
  half = model.clone(dtype=jnp.bfloat16)
  run = lambda m: jax.jit(lambda p: m.apply(
      {"params": p}, golden["images"], golden["ids"]))(params)
  out, full = run(half), run(model)
  for k in ("image_embed", "text_embed", "itm_logits"):
    assert np.max(np.abs(out[k] - full[k])) < 0.05, k


def test_golden_files_stay_small():
  total = sum(os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(GOLDEN) for f in files)
  # Three models (retrieval, SNLI-VE head, NLVR2): about 0.8 MB.
  assert total < 900_000, total


NLVR = albef_checkpoints.NLVR


@functools.lru_cache(maxsize=None)
def _nlvr_template():
  config = albef_weights.model_config(NLVR)
  config.pop("embed_dim")  # None: no ITC projections
  model = albef.AlbefClassifier(
      **config, num_images=2, eot_id=albef_weights.model_keys(NLVR)["eot_id"])
  golden = dict(np.load(os.path.join(GOLDEN, "outputs.npz")))
  init = jax.jit(functools.partial(model.init, method=model.classify))
  params = init(jax.random.key(0), golden["nlvr_images"][:1],
                golden["ids"][:1])["params"]
  return model, jax.tree.map(np.asarray, params), golden


def test_the_nlvr2_model_matches_the_reference():
  """ALBEF's NLVR2 model: fusion layers in pairs, the first of a pair
  attending to the first image and the second to the second, one key and
  value per pair; its logits and fusion [CLS] are the reference's."""
  assert albef_weights.paired(NLVR) and not albef_weights.paired(CKPT)
  c = albef_weights.model_config(NLVR)
  assert (c["text_layers"], c["fusion_layers"], c["num_classes"]) == (1, 4,
                                                                      2)
  model, params, golden = _nlvr_template()
  loaded = albef_weights.import_params(params, NLVR)
  out = jax.jit(lambda p: model.apply(
      {"params": p}, golden["nlvr_images"], golden["ids"],
      method=model.classify))(loaded)
  np.testing.assert_allclose(out["fusion_cls"], golden["nlvr_fusion_cls"],
                             **TOL)
  np.testing.assert_allclose(out["class_logits"], golden["nlvr_logits"],
                             **TOL)
  assert out["image_tokens"].shape == (3, 2, 17, 32)
  layers = loaded["text_encoder"]["encoder"]
  state = albef_weights.read_state(NLVR)
  for first, second in ((1, 2), (3, 4)):
    assert set(layers[f"layer_{first}"]["crossattention"]["self"]) == {
        "query"}
    np.testing.assert_array_equal(
        layers[f"layer_{second}"]["crossattention"]["self"]["value"]["bias"],
        state[f"text_encoder.encoder.layer.{first}.crossattention.self."
              "value.bias"])


def test_an_nlvr2_checkpoint_whose_pairs_differ_is_refused(tmp_path):
  key = "text_encoder.encoder.layer.3.crossattention.self.key.weight"
  path = albef_checkpoints.rewritten(
      tmp_path / "nlvr", lambda s: s.update({key: s[key] + 1.0}),
      albef_checkpoints.NLVR)
  assert not albef_weights.paired(path)
  model, params, _ = _nlvr_template()
  with pytest.raises(errors.CheckpointError,
                     match=f"tensor '{key}' is not .*layer.4"):
    albef_weights.import_params(params, path)


def test_the_text_assignment_backbone_loads_without_its_head(tmp_path):
  """pretrain_model_nlvr.pth: `ta_head` dropped, `cls_head` fresh, every
  other tensor the checkpoint's."""
  path = albef_checkpoints.nlvr_pretrained(tmp_path / "ta")
  assert albef_weights.paired(path)
  assert albef_weights.model_config(path)["num_classes"] is None
  model, params, _ = _nlvr_template()
  loaded = albef_weights.import_params(params, path)
  whole = albef_weights.import_params(params, NLVR)
  np.testing.assert_array_equal(loaded["cls_head_0"]["kernel"],
                                params["cls_head_0"]["kernel"])
  jax.tree.map(np.testing.assert_array_equal, loaded["text_encoder"],
               whole["text_encoder"])
