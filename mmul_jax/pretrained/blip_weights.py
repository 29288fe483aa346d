"""BLIP retrieval checkpoints into `models.blip.BlipRetrieval`: a Hugging
Face `BlipForImageTextRetrieval` directory (`Salesforce/blip-itm-base-coco`,
`-flickr`, `-large-*`; the architecture from `config.json`), or one of
BLIP's own files (`model_base_capfilt_large.pth`, the pretrained weights
MultiDelete retrains from, and the retrieval `.pth` files; the
architecture from the tensor shapes, the names renamed by
`blip_original`); the tensors by name (`hf_state`)."""

from __future__ import annotations


from mmul_jax import errors
from mmul_jax.pretrained import blip_original
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state
from mmul_jax.pretrained import positions


def fine_tuned_download(path: str) -> str:
  """Where a task-fine-tuned checkpoint (`model.original`) comes from: the
  command that downloads one to `path`."""
  return (f"huggingface-cli download Salesforce/blip-itm-base-coco "
          f"--local-dir {path}")


ARCHITECTURE = "BlipForImageTextRetrieval"


def _config(path: str) -> dict:
  return hf_state.read_config(
      path, ARCHITECTURE, what="a BLIP retrieval checkpoint",
      example="Salesforce/blip-itm-base-coco",
      files="config.json, model.safetensors, tokenizer.json, "
      "tokenizer_config.json", required=("text_config", "vision_config"))


def model_config(path: str) -> dict:
  """`BlipRetrieval`'s architecture arguments from the checkpoint's
  config.json (or, for BLIP's own files, its tensor shapes)."""
  if blip_original.is_original(path):
    return blip_original.model_config(path)
  config = _config(path)
  t, v = config["text_config"], config["vision_config"]
  towers = tower_sizes(path, config)
  if t.get("encoder_hidden_size", v["hidden_size"]) != v["hidden_size"]:
    raise errors.CheckpointError(
        f"{path}: text_config.encoder_hidden_size "
        f"({t['encoder_hidden_size']}) is not the image encoder's width "
        f"({v['hidden_size']})")
  return dict(
      towers, embed_dim=config.get("image_text_hidden_size", 256),
      context_length=t["max_position_embeddings"],
      eot_id=t.get("sep_token_id", 102))


def tower_sizes(path: str, config: dict) -> dict:
  """The image encoder's and the text tower's sizes from a Hugging Face
  BLIP config.json (`config`), shared by the retrieval and captioning
  models; a tower whose activation is not BLIP's GELU is refused."""
  t, v = config["text_config"], config["vision_config"]
  for tower, c in (("text", t), ("vision", v)):
    if c.get("hidden_act", "gelu") != "gelu":
      raise errors.CheckpointError(
          f"{path}: the {tower} encoder's activation is "
          f"{c['hidden_act']!r}; BLIP's is gelu (the erf form)")
  return dict(
      image_size=v["image_size"], patch_size=v["patch_size"],
      vision_width=v["hidden_size"], vision_layers=v["num_hidden_layers"],
      vision_heads=v["num_attention_heads"],
      vision_mlp_dim=v["intermediate_size"],
      vision_eps=v.get("layer_norm_eps", 1e-5),
      vocab_size=t["vocab_size"],
      text_width=t["hidden_size"], text_layers=t["num_hidden_layers"],
      text_heads=t["num_attention_heads"], text_mlp_dim=t["intermediate_size"],
      text_eps=t.get("layer_norm_eps", 1e-12))


def model_keys(path: str) -> dict:
  """The `model.*` keys (with `model.arch = "blip"`) that describe the
  checkpoint's architecture (`models.build_blip` builds from them)."""
  return _model_keys(model_config(path), path)


def _model_keys(c: dict, path: str) -> dict:
  ratio = c["vision_mlp_dim"] / c["vision_width"]
  if c["text_mlp_dim"] != round(ratio * c["text_width"]):
    raise errors.CheckpointError(
        f"{path}: the image and text encoders' MLPs are "
        f"{c['vision_mlp_dim']} / {c['vision_width']} and "
        f"{c['text_mlp_dim']} / {c['text_width']} of their widths; "
        "model.mlp_ratio describes one ratio for both, as BLIP's have")
  keys = {k: c[k] for k in (
      "embed_dim", "image_size", "patch_size", "vision_width",
      "vision_layers", "vision_heads", "vocab_size", "text_width",
      "text_layers", "text_heads", "eot_id")}
  keys.update(mlp_ratio=ratio, text_positions=c["context_length"])
  return keys


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture (and BLIP's fixed LayerNorm epsilons)."""
  c = model_config(path)
  if (c["vision_eps"], c["text_eps"]) != (1e-5, 1e-12):
    raise errors.CheckpointError(
        f"{path}: LayerNorm epsilons {c['vision_eps']} / {c['text_eps']}; "
        "BLIP's are 1e-5 (image) and 1e-12 (text)")
  wanted = _model_keys(c, path)
  extra = []
  if blip_original.is_original(path):  # positions resize to any size
    wanted.pop("image_size")
    if model_cfg["image_size"] % model_cfg["patch_size"]:
      extra = [f"model.image_size = {model_cfg['image_size']} is not a "
               f"multiple of the patch size {model_cfg['patch_size']}"]
  hf_state.check_keys(path, model_cfg, wanted,
                      positions="the text encoder's {n} positions",
                      remedy="Set these keys (its config.json or "
                      "blip_weights.model_keys(path) has them)", extra=extra)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree of `models.build_blip(model_cfg)`)
  with the checkpoint's tensors (`import_params`): every parameter, BLIP's
  "towers" being the whole model (`pretrained.load_towers` calls this)."""
  del model_cfg  # the architecture was checked by `check_model_config`
  return hf_state.import_whole(path, params, import_params)


def import_params(params: dict, path: str) -> dict:
  """`params` of a `BlipRetrieval` built from `model_config(path)`, with
  every tensor of the checkpoint `path` (a directory: safetensors,
  sharded safetensors with its index, or pytorch_model.bin; or one of
  BLIP's own files, whose position embeddings are resized to the model's
  image size) in place; `logit_scale`, which Hugging Face's checkpoints
  do not keep, stays as given."""
  if blip_original.is_original(path):
    state = blip_original.read_state(path)
    want = params["vision_model"]["embeddings"]["position_embedding"].shape
    pos = state.get(blip_original.POS_EMBED)
    if pos is not None and pos.shape != want:
      state[blip_original.POS_EMBED] = positions.resize(
          pos, round((want[1] - 1) ** 0.5))
  else:
    _config(path)
    state = clip_weights.read_state_dict(path)
  return hf_state.import_state(
      params, state, source=path,
      skip=() if "logit_scale" in state else ("logit_scale",))
