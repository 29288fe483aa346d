"""BLIP's own checkpoint files (`.pth` of the BLIP repository and LAVIS:
the pretrained `model_base.pth` and `model_base_capfilt_large.pth`, where
MultiDelete's retrained reference starts, and the retrieval-fine-tuned
`model_base_retrieval_coco.pth`, `model_base_retrieval_flickr.pth`,
LAVIS's `blip_coco_retrieval.pth`) under Hugging Face's
`BlipForImageTextRetrieval` names, so `blip_weights` imports them into
`models.blip.BlipRetrieval` like a Hugging Face directory. Read without
torch or pickle execution (`torch_files`).

The file holds no config: the architecture comes from the tensor shapes,
the attention heads from a `config.json` beside the file (`{"vision_heads":
.., "text_heads": ..}`, or a Hugging Face BLIP config's) or else BLIP's
64-wide heads. On import:

* a training checkpoint (`{"model": ...}`) is unwrapped; the momentum
  copies (`*_m`), the queues and their pointer, the captioning decoder
  (`text_decoder.*`, the pretrained files') and buffers are dropped;
* the image encoder's timm names become Hugging Face's (`visual_encoder.
  blocks.0.attn.qkv` -> `vision_model.encoder.layers.0.self_attn.qkv`,
  `norm1` -> `layer_norm1`, `attn.proj` -> `self_attn.projection`, `norm`
  -> `post_layernorm`, `cls_token`, `pos_embed`, `patch_embed.proj` ->
  `embeddings.*`), as transformers' conversion of these files renames
  them; the text encoder's names are already Hugging Face's;
* `temp` becomes `logit_scale` = log(1 / temp) (Hugging Face's files keep
  no temperature);
* the position embeddings of another image size (the pretrained files'
  224 pixels) are resized to the model's grid by bicubic interpolation as
  torch computes it (`positions.resize`, as BLIP's `interpolate_pos_embed`).

BLIP's own image encoder uses LayerNorm eps 1e-6; the Hugging Face port
(and so this one) 1e-5, as transformers' converted checkpoints say.
"""

from __future__ import annotations

import functools
import os
import re

import numpy as np

from mmul_jax import errors
from mmul_jax import io_utils
from mmul_jax.pretrained import clip_weights
from mmul_jax.pretrained import hf_state

_BLIP = "https://storage.googleapis.com/sfr-vision-language-research/"
# Where each released file comes from, by its name.
DOWNLOADS = {
    **{n: _BLIP + "BLIP/models/" + n for n in (
        "model_base.pth", "model_base_capfilt_large.pth",
        "model_base_retrieval_coco.pth", "model_base_retrieval_flickr.pth")},
    "blip_coco_retrieval.pth": _BLIP + "LAVIS/models/BLIP/"
                               "blip_coco_retrieval.pth"}
_DROPPED = re.compile(
    r"^(\w+_m\.|image_queue$|text_queue$|idx_queue$|ptr_queue$|"
    r"queue_ptr$|text_decoder\.)|position_ids$")
_RENAMES = (  # timm's image encoder -> Hugging Face's, in this order
    (r"^visual_encoder\.cls_token$", "vision_model.embeddings.class_embedding"),
    (r"^visual_encoder\.pos_embed$",
     "vision_model.embeddings.position_embedding"),
    (r"^visual_encoder\.patch_embed\.proj\.",
     "vision_model.embeddings.patch_embedding."),
    (r"^visual_encoder\.norm\.", "vision_model.post_layernorm."),
    (r"^visual_encoder\.blocks\.(\d+)\.",
     r"vision_model.encoder.layers.\1."),
    (r"(vision_model\.encoder\.layers\.\d+)\.norm([12])\.",
     r"\1.layer_norm\2."),
    (r"(vision_model\.encoder\.layers\.\d+)\.attn\.proj\.",
     r"\1.self_attn.projection."),
    (r"(vision_model\.encoder\.layers\.\d+)\.attn\.qkv\.",
     r"\1.self_attn.qkv."),
)
POS_EMBED = "vision_model.embeddings.position_embedding"


def is_original(path: str) -> bool:
  """Whether `path` names one of BLIP's own files (not a Hugging Face
  directory)."""
  return os.path.isfile(path) or path.endswith((".pth", ".pt"))


def _file(path: str) -> str:
  if not os.path.isfile(path):
    url = DOWNLOADS.get(os.path.basename(path),
                        DOWNLOADS["model_base_capfilt_large.pth"])
    raise errors.CheckpointError(
        f"BLIP checkpoint {path} does not exist. Download it there "
        f"(wget {url} -O {path}) with a BLIP tokenizer.json and "
        "tokenizer_config.json beside it (those of "
        "Salesforce/blip-itm-base-coco), or pass "
        "--config.model.pretrained=FILE")
  return path


def _rename(name: str) -> str:
  for pattern, new in _RENAMES:
    name = re.sub(pattern, new, name)
  return name


def read_state(path: str) -> dict[str, np.ndarray]:
  """The file's tensors under `BlipForImageTextRetrieval`'s names (the
  module docstring's list)."""
  file = _file(path)
  state = {_rename(k): v for k, v in
           clip_weights.read_state_dict(file).items()
           if not _DROPPED.search(k)}
  if "temp" in state:
    temp = np.asarray(state.pop("temp"), np.float64)
    if not (temp.size == 1 and temp.item() > 0):
      raise errors.CheckpointError(
          f"{file}: tensor 'temp' is {temp!r}, not a positive scalar")
    state["logit_scale"] = np.asarray(np.log(1.0 / temp.item()), np.float32)
  return state


@functools.lru_cache(maxsize=8)
def _shapes_of(file: str, stamp: tuple) -> dict[str, tuple[int, ...]]:
  del stamp  # in the key: a rewritten file is read again
  return {k: tuple(v.shape) for k, v in read_state(file).items()}


def _shapes(path: str) -> dict[str, tuple[int, ...]]:
  file = os.path.realpath(_file(path))
  st = os.stat(file)
  return _shapes_of(file, (st.st_mtime_ns, st.st_size))


def _heads(file: str) -> dict:
  """The attention heads of a `config.json` beside the file: ours
  (`vision_heads`, `text_heads`) or a Hugging Face BLIP config's."""
  sidecar = os.path.join(os.path.dirname(file), "config.json")
  if not os.path.exists(sidecar):
    return {}
  c = io_utils.read_json(sidecar, what="BLIP heads file",
                         remedy="write it as {\"vision_heads\": 12, "
                         "\"text_heads\": 12}, or remove it",
                         error=errors.CheckpointError)
  if "vision_config" in c or "text_config" in c:
    return {f"{t}_heads": c[f"{t}_config"]["num_attention_heads"]
            for t in ("vision", "text") if "num_attention_heads" in c.get(
                f"{t}_config", {})}
  return c


def model_config(path: str) -> dict:
  """`BlipRetrieval`'s architecture arguments (as
  `blip_weights.model_config` gives them for a Hugging Face directory),
  from the tensor shapes and the heads beside the file."""
  file = _file(path)
  state = _shapes(path)

  def shape(name):
    if name not in state:
      raise errors.CheckpointError(
          f"{file} has no tensor {name!r} (after renaming BLIP's names "
          "to Hugging Face's): not a BLIP retrieval or pretrained "
          f"checkpoint (its tensors begin {sorted(state)[:3]})")
    return state[name]

  vw, _, patch, _ = shape("vision_model.embeddings.patch_embedding.weight")
  grid = round((shape(POS_EMBED)[1] - 1) ** 0.5)
  vocab, tw = shape("text_encoder.embeddings.word_embeddings.weight")
  text_layers = clip_weights.count_layers(state, "text_encoder.encoder.layer.")
  if any(f"text_encoder.encoder.layer.{i}.crossattention.self.query.weight"
         not in state for i in range(text_layers)):
    raise errors.CheckpointError(
        f"{file}: not every text layer has cross-attention; BLIP's "
        "matching encoder has it in all of them (an ALBEF file? use "
        "model.arch = 'albef')")
  heads = _heads(file)
  return dict(
      embed_dim=shape("vision_proj.weight")[0], image_size=grid * patch,
      patch_size=patch, vision_width=vw,
      vision_layers=clip_weights.count_layers(
          state, "vision_model.encoder.layers."),
      vision_heads=int(heads.get("vision_heads", vw // 64)),
      vision_mlp_dim=shape(
          "vision_model.encoder.layers.0.mlp.fc1.weight")[0],
      vision_eps=1e-5, vocab_size=vocab,
      context_length=shape(
          "text_encoder.embeddings.position_embeddings.weight")[0],
      text_width=tw, text_layers=text_layers,
      text_heads=int(heads.get("text_heads", tw // 64)),
      text_mlp_dim=shape(
          "text_encoder.encoder.layer.0.intermediate.dense.weight")[0],
      text_eps=1e-12, eot_id=hf_state.sep_id(file, 102))
