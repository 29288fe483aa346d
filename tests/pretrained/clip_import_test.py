"""CLIP checkpoint import: round trips without torch, refusals that name the
tensor, and numerical parity with `transformers.CLIPModel` (needs the
`torch` extra; skipped without it)."""

import json
import os
import pickle
import re
import sys
import zipfile

import jax
import ml_collections
import numpy as np
import pytest
import safetensors.numpy

from mmul_jax import errors
from mmul_jax import models
from mmul_jax import pretrained
from mmul_jax.data.core import tokenizer as tokenizer_lib

TOWERS = dict(embed_dim=24, image_size=32, patch_size=8, vision_width=48,
              vision_layers=2, vision_heads=4, vocab_size=58,
              context_length=16, text_width=32, text_layers=2, text_heads=4,
              eot_id=57, mlp_ratio=4.0, activation="quick_gelu",
              layer_norm_eps=1e-5)


def model_cfg(**changes):
  return ml_collections.ConfigDict(dict(
      TOWERS, fusion_width=32, fusion_layers=1, fusion_heads=4,
      pretrained="", **changes))


def init(cfg, seed=0):
  m = models.build(cfg)
  params = m.init(jax.random.key(seed), np.zeros((1, 32, 32, 3), np.float32),
                  np.zeros((1, 16), np.int32))
  return m, jax.tree.map(np.asarray, params)


def to_openai(params, cfg) -> dict[str, np.ndarray]:
  """Our towers in OpenAI's naming (the inverse of the import)."""
  p = params["params"]
  out = {"logit_scale": p["logit_scale"]}

  def tower(ours, prefix, layers):
    for i in range(layers):
      b = ours["transformer"][f"resblocks_{i}"]
      s = f"{prefix}transformer.resblocks.{i}."
      a = b["attn"]
      out[s + "attn.in_proj_weight"] = np.concatenate(
          [a[n]["kernel"].reshape(a[n]["kernel"].shape[0], -1).T
           for n in ("query", "key", "value")])
      out[s + "attn.in_proj_bias"] = np.concatenate(
          [a[n]["bias"].ravel() for n in ("query", "key", "value")])
      k = a["out"]["kernel"]
      out[s + "attn.out_proj.weight"] = k.reshape(-1, k.shape[-1]).T
      out[s + "attn.out_proj.bias"] = a["out"]["bias"]
      for n in ("ln_1", "ln_2"):
        out[s + n + ".weight"] = b[n]["scale"]
        out[s + n + ".bias"] = b[n]["bias"]
      for n in ("c_fc", "c_proj"):
        out[s + f"mlp.{n}.weight"] = b["mlp"][n]["kernel"].T
        out[s + f"mlp.{n}.bias"] = b["mlp"][n]["bias"]

  img, txt = p["img"], p["txt"]
  tower(img, "visual.", cfg.vision_layers)
  tower(txt, "", cfg.text_layers)
  out["visual.conv1.weight"] = img["conv1"]["kernel"].transpose(3, 2, 0, 1)
  out["visual.class_embedding"] = img["class_embedding"]
  out["visual.positional_embedding"] = img["positional_embedding"]
  out["visual.proj"] = img["proj"]
  for n in ("ln_pre", "ln_post"):
    out[f"visual.{n}.weight"] = img[n]["scale"]
    out[f"visual.{n}.bias"] = img[n]["bias"]
  out["token_embedding.weight"] = txt["token_embedding"]["embedding"]
  out["positional_embedding"] = txt["positional_embedding"]
  out["text_projection"] = txt["text_projection"]
  out["ln_final.weight"] = txt["ln_final"]["scale"]
  out["ln_final.bias"] = txt["ln_final"]["bias"]
  return {k: np.array(v, order="C") for k, v in out.items()}


@pytest.mark.slow
def test_openai_round_trip_through_safetensors(tmp_path):
  cfg = model_cfg()
  _, source = init(cfg, seed=1)
  _, target = init(cfg, seed=2)
  path = str(tmp_path / "open_clip_model.safetensors")
  safetensors.numpy.save_file(to_openai(source, cfg), path)
  pretrained.check_model_config(path, cfg)  # inferred from the shapes
  loaded = pretrained.load_towers(str(tmp_path), target, cfg)
  for tower in ("img", "txt", "logit_scale"):
    jax.tree.map(np.testing.assert_array_equal, loaded["params"][tower],
                 source["params"][tower])
  # The fusion encoder has no CLIP counterpart: untouched.
  jax.tree.map(np.testing.assert_array_equal, loaded["params"]["fusion"],
               target["params"]["fusion"])


@pytest.mark.parametrize("modality,tower", [("image", "img"),
                                            ("text", "txt")])
def test_a_unimodal_classifier_takes_its_one_tower(tmp_path, modality,
                                                   tower):
  cfg = model_cfg()
  _, source = init(cfg, seed=1)
  safetensors.numpy.save_file(to_openai(source, cfg),
                              str(tmp_path / "open_clip_model.safetensors"))
  m = models.build(cfg, modality=modality, unimodal=True, num_classes=3)
  x = (np.zeros((1, 32, 32, 3), np.float32) if modality == "image"
       else np.zeros((1, 16), np.int32))
  target = jax.tree.map(np.asarray, m.init(jax.random.key(2), x))
  loaded = pretrained.load_towers(str(tmp_path), target, cfg)
  assert set(loaded["params"]) == {tower, "cls_head"}
  jax.tree.map(np.testing.assert_array_equal, loaded["params"][tower],
               source["params"][tower])
  jax.tree.map(np.testing.assert_array_equal, loaded["params"]["cls_head"],
               target["params"]["cls_head"])


def test_missing_misshapen_and_unused_tensors_are_named(tmp_path):
  cfg = model_cfg()
  _, params = init(cfg)
  state = to_openai(params, cfg)
  missing = dict(state)
  del missing["visual.transformer.resblocks.1.mlp.c_fc.bias"]
  with pytest.raises(errors.CheckpointError,
                     match=r"visual\.transformer\.resblocks\.1\.mlp\.c_fc"
                     r"\.bias"):
    pretrained.import_towers(params, missing, cfg)
  bad = dict(state, **{"ln_final.weight": np.zeros(7, np.float32)})
  with pytest.raises(errors.CheckpointError,
                     match=r"ln_final\.weight \(7,\) does not fit "
                     r"txt/ln_final/scale of shape \(32,\)"):
    pretrained.import_towers(params, bad, cfg)
  extra = dict(state, **{
      k.replace("resblocks.1.", "resblocks.2."): v for k, v in state.items()
      if k.startswith("transformer.resblocks.1.")})
  with pytest.raises(errors.CheckpointError, match="no place for"):
    pretrained.import_towers(params, extra, cfg)
  with pytest.raises(errors.ConfigError, match="model.text_layers = 2 but "
                     "the checkpoint has 3"):
    safetensors.numpy.save_file(extra, str(tmp_path / "x.safetensors"))
    pretrained.check_model_config(str(tmp_path / "x.safetensors"), cfg)


@pytest.mark.parametrize("value,message", [
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan, x),
     "1 NaN/inf value"),
    (lambda x: x.astype(np.int32), "dtype int32")])
def test_non_finite_or_integer_weights_are_refused_on_import(value, message):
  cfg = model_cfg()
  _, params = init(cfg)
  state = to_openai(params, cfg)
  name = "visual.transformer.resblocks.0.mlp.c_fc.weight"
  state[name] = value(state[name])
  with pytest.raises(errors.CheckpointError,
                     match=rf"tensor '{re.escape(name)}' .*{message}"):
    pretrained.import_towers(params, state, cfg)


def test_torch_file_reader_refuses_foreign_objects(tmp_path):
  path = tmp_path / "evil.bin"
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("archive/data.pkl", pickle.dumps({"x": os.getcwd}))
  with pytest.raises(errors.CheckpointError, match="posix.getcwd"):
    pretrained.load_torch_file(str(path))
  (tmp_path / "old.bin").write_bytes(pickle.dumps({"a": 1}))
  with pytest.raises(errors.CheckpointError, match="not a zip-format"):
    pretrained.load_torch_file(str(tmp_path / "old.bin"))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(errors.CheckpointError, match="no weights in"):
    pretrained.read_state_dict(str(tmp_path / "empty"))


def test_tokenizer_from_checkpoint_refuses_missing_file(tmp_path):
  with pytest.raises(errors.CheckpointError, match="no tokenizer.json"):
    tokenizer_lib.from_checkpoint(str(tmp_path), 16)


# --- parity with PyTorch (the `torch` extra) --------------------------------

try:
  import torch
  import transformers
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))), "fixtures"))
  import make_clip_golden as golden
except ImportError:
  torch = transformers = golden = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="needs the torch extra: pip install torch==2.13.0 "
    "&& pip install -e '.[torch]'")

def clip_tokenizer():
  return golden.tokenizer()


def hf_checkpoint(directory, eos_token_id=57, hidden_act="quick_gelu"):
  """The golden files' random CLIP (tests/fixtures/make_clip_golden.py) at
  this file's size, saved with its tokenizer."""
  model = golden.model(TOWERS, eos_token_id=eos_token_id,
                       hidden_act=hidden_act)
  model.save_pretrained(directory)
  clip_tokenizer().save_pretrained(directory)
  return model


def compare(model, directory, texts, rtol=1e-4, atol=1e-4):
  cfg = model_cfg(**pretrained.model_config(directory))
  tok = tokenizer_lib.from_checkpoint(directory, cfg.context_length)
  assert tok.get_vocab_size() == cfg.vocab_size
  ids = tokenizer_lib.encode(tok, texts)
  hf_ids = clip_tokenizer()(texts, padding="max_length", truncation=True,
                            max_length=cfg.context_length).input_ids
  np.testing.assert_array_equal(ids, np.asarray(hf_ids))
  images = np.random.default_rng(0).normal(size=(3, 32, 32, 3))
  with torch.no_grad():
    out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                pixel_values=torch.tensor(images.transpose(0, 3, 1, 2),
                                          dtype=torch.float32))
  m, params = init(cfg)
  params = pretrained.load_towers(directory, params, cfg)
  ours = m.apply(params, images.astype(np.float32), ids)
  np.testing.assert_allclose(ours["image_embed"], out.image_embeds.numpy(),
                             rtol=rtol, atol=atol)
  np.testing.assert_allclose(ours["text_embed"], out.text_embeds.numpy(),
                             rtol=rtol, atol=atol)
  logits = np.exp(ours["logit_scale"]) * (
      ours["image_embed"] @ ours["text_embed"].T)
  np.testing.assert_allclose(logits, out.logits_per_image.numpy(),
                             rtol=rtol, atol=atol * 20)
  return cfg, model


TEXTS = ["the cat and the dog", "a bird", "than the hand and the hat " * 3]


@needs_torch
def test_parity_with_transformers_clip(tmp_path):
  model = hf_checkpoint(str(tmp_path))
  compare(model, str(tmp_path), TEXTS)


@needs_torch
def test_parity_legacy_eos_and_exact_gelu(tmp_path):
  # eos_token_id 2 (configs before transformers PR 24773): EOT = top id.
  model = hf_checkpoint(str(tmp_path), eos_token_id=2, hidden_act="gelu")
  cfg, _ = compare(model, str(tmp_path), TEXTS)
  assert cfg.eot_id == 57 and cfg.activation == "gelu_exact"


@needs_torch
def test_parity_openai_naming_from_torch_file(tmp_path):
  hf_dir, oa_dir = tmp_path / "hf", tmp_path / "openai"
  model = hf_checkpoint(str(hf_dir))
  cfg = model_cfg()
  _, params = init(cfg)
  params = pretrained.load_towers(str(hf_dir), params, cfg)
  os.makedirs(oa_dir)
  torch.save({k: torch.from_numpy(v) for k, v in
              to_openai(params, cfg).items()},
             oa_dir / "open_clip_pytorch_model.bin")
  for name in ("tokenizer.json", "tokenizer_config.json"):
    (oa_dir / name).write_bytes((hf_dir / name).read_bytes())
  compare(model, str(oa_dir), TEXTS)


@needs_torch
def test_torch_reader_matches_torch_load(tmp_path):
  tensors = {"f32": torch.randn(3, 4), "bf16": torch.randn(5).bfloat16(),
             "view": torch.randn(4, 6)[:, 1:4].t(), "i64": torch.arange(7),
             "scalar": torch.tensor(3.5)}
  torch.save(tensors, tmp_path / "t.bin")
  read = pretrained.load_torch_file(str(tmp_path / "t.bin"))
  for k, v in tensors.items():
    np.testing.assert_array_equal(read[k].astype(np.float32),
                                  v.float().numpy())
    assert read[k].shape == tuple(v.shape)
  json.dumps({k: str(v.dtype) for k, v in read.items()})


@needs_torch
def test_unlearn_script_starts_from_a_pretrained_checkpoint(tmp_path,
                                                            data_dir):
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))
  ckpt = str(tmp_path / "clip")
  hf_checkpoint(ckpt)
  arch = pretrained.model_config(ckpt)
  flags = [f"--config.model.{k}={v}" for k, v in arch.items()]
  flags += ["--config.model.fusion_width=32", f"--config.model.pretrained={ckpt}",
            f"--workdir={tmp_path / 'run'}",
            f"--config.data.data_dir={data_dir}",
            "--config.train.num_steps=2", "--config.unlearn.num_steps=2"]
  r = subprocess.run(
      [sys.executable, os.path.join(root, "scripts", "unlearn.py"),
       "--config=" + os.path.join(root, "configs", "tiny.py"), *flags],
      capture_output=True, text=True, timeout=600, cwd=root,
      env=dict(os.environ, PYTHONPATH=root))
  assert r.returncode == 0, r.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["config"]["model"]["pretrained"] == ckpt
  # A checkpoint of another size is refused before any compute.
  r = subprocess.run(
      [sys.executable, os.path.join(root, "scripts", "unlearn.py"),
       "--config=" + os.path.join(root, "configs", "tiny.py"),
       *flags, "--config.model.text_layers=3"],
      capture_output=True, text=True, timeout=120, cwd=root,
      env=dict(os.environ, PYTHONPATH=root))
  assert r.returncode == 2
  assert "model.text_layers = 3 but the checkpoint has 2" in r.stderr
