"""ALBEF checkpoints (`.pth` / `.pt` files of LAVIS's model zoo,
`albef_coco_retrieval_lavis.pt`, `albef_flickr_retrieval_lavis.pt`,
`albef_snli_ve_lavis.pt`, `albef_nlvr_lavis.pt`, the original ALBEF's
`mscoco.pth`, `flickr30k.pth`, or the pretrained `ALBEF.pth` and, for
NLVR2, `pretrain_model_nlvr.pth`) into `models.albef.AlbefRetrieval` or
`AlbefClassifier` (SNLI-VE, or NLVR2 with two images), read without
torch or pickle execution (`torch_files`), by name (`hf_state`). A
pretrained file loads into the classifier as its backbone (the
classifier starts at its initialisation).

An ALBEF file holds no config: the architecture comes from the tensor
shapes (widths, layers, the first layer with cross-attention, the
vocabulary, positions, image size), the attention heads, which no shape
gives, from a `config.json` beside the file (`{"vision_heads": ..,
"text_heads": ..}`) or else ALBEF's 64-wide heads. On import:

* a checkpoint wrapped as training saves it (`{"model": ...}`) is
  unwrapped; the momentum copies (`*_m`), the queues and `queue_ptr`,
  the masked-LM head (`text_encoder.cls.*`) and buffers are dropped;
* the pretrained file's `text_encoder.bert.` prefix is removed;
* the original ALBEF's token-type embedding (row 0, the only one a text
  uses) is folded into the position embeddings, which gives the same
  embeddings (LAVIS's ALBEF has none);
* `temp` becomes `logit_scale` = log(1 / temp);
* `visual_encoder.pos_embed` of another image size (the pretrained
  checkpoints' 256 pixels) is resized to the model's grid by bicubic
  interpolation as torch computes it (ALBEF's `interpolate_pos_embed`, `positions.resize`);
* the NLVR2 model's pairs of fusion layers share their cross-attention
  key and value (LAVIS's `share_cross_attention`), which its state dict
  holds under both layers' names: the model holds them once, under the
  second layer's, and the first's copy is dropped after checking it is
  the same tensor. A checkpoint whose fusion layers share them in pairs
  is an NLVR2 one (`paired`): it is refused for one-image tasks, and
  any other for two-image tasks (the 12-layer `ALBEF.pth` too: ALBEF's
  NLVR2 fine-tuning starts from the text-assignment pretrained
  `pretrain_model_nlvr.pth`, whose `ta_head` is dropped).

No reference implementation of ALBEF installs here (LAVIS pins old
libraries), so the parity golden files check this port against ALBEF's
architecture assembled from transformers' modules, and the names against
LAVIS's source as read; no released ALBEF file was opened.
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
from mmul_jax.pretrained import positions

# Where each released file comes from, by its name.
_LAVIS = ("https://storage.googleapis.com/sfr-vision-language-research/"
          "LAVIS/models/ALBEF/")
_PCL = "https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/"
DOWNLOADS = {
    **{n: _LAVIS + n for n in (
        "albef_coco_retrieval_lavis.pt", "albef_flickr_retrieval_lavis.pt",
        "albef_snli_ve_lavis.pt", "albef_nlvr_lavis.pt")},
    "ALBEF.pth": _PCL + "ALBEF.pth",
    "pretrain_model_nlvr.pth": _PCL + "pretrain_model_nlvr.pth"}


def _url(path: str, default: str) -> str:
  return DOWNLOADS.get(os.path.basename(path), DOWNLOADS[default])


def fine_tuned_download(path: str) -> str:
  """The command that downloads a task-fine-tuned checkpoint to `path`
  (the one its file name names, else COCO retrieval's)."""
  return (f"wget {_url(path, 'albef_coco_retrieval_lavis.pt')} -O {path} "
          "(and bert-base-uncased's tokenizer.json beside it)")


_DROPPED = re.compile(
    r"^(\w+_m\.|image_queue$|text_queue$|idx_queue$|queue_ptr$|"
    r"text_encoder\.cls\.|ta_head\.)|position_ids$")
_SHARED = re.compile(r"^text_encoder\.encoder\.layer\.(\d+)\.crossattention"
                     r"\.self\.(key|value)\.(weight|bias)$")
_TOKEN_TYPES = "text_encoder.embeddings.token_type_embeddings.weight"
_POSITIONS = "text_encoder.embeddings.position_embeddings.weight"
_POS_EMBED = "visual_encoder.pos_embed"


def _file(path: str) -> str:
  """The checkpoint file: `path`, or the one .pth / .pt file in it."""
  if os.path.isfile(path):
    return path
  if not os.path.isdir(path):
    named = DOWNLOADS.get(os.path.basename(path))
    raise errors.CheckpointError(
        f"ALBEF checkpoint {path} does not exist. Download it there, "
        + (f"{named}" if named else
           f"e.g. {DOWNLOADS['ALBEF.pth']} (pretrained) or "
           f"{DOWNLOADS['albef_coco_retrieval_lavis.pt']} (COCO retrieval)")
        + ", with bert-base-uncased's tokenizer.json beside it, or pass "
        "--config.model.pretrained=FILE")
  found = sorted(f for f in os.listdir(path) if f.endswith((".pth", ".pt")))
  if len(found) != 1:
    raise errors.CheckpointError(
        f"{path} holds {len(found)} .pth / .pt files ({', '.join(found)}); "
        "name the ALBEF checkpoint file itself")
  return os.path.join(path, found[0])


def read_state(path: str) -> dict[str, np.ndarray]:
  """The checkpoint's tensors, renamed and adapted to `AlbefRetrieval`'s
  names (the module docstring's list)."""
  state = clip_weights.read_state_dict(_file(path))
  state = {k.replace("text_encoder.bert.", "text_encoder."): v
           for k, v in state.items() if not _DROPPED.search(
               k.replace("text_encoder.bert.", "text_encoder."))}
  if _TOKEN_TYPES in state:
    types = state.pop(_TOKEN_TYPES)
    if _POSITIONS in state:
      state[_POSITIONS] = state[_POSITIONS] + types[0]
  if "temp" in state:
    temp = np.asarray(state.pop("temp"), np.float64)
    if not (temp.size == 1 and temp.item() > 0):
      raise errors.CheckpointError(
          f"{path}: tensor 'temp' is {temp!r}, not a positive scalar")
    state["logit_scale"] = np.asarray(np.log(1.0 / temp.item()), np.float32)
  return state


def _partner(name: str) -> str | None:
  """The name of a shared key / value tensor in the pair's second layer,
  for one in any layer."""
  m = _SHARED.match(name)
  if m is None:
    return None
  i = int(m.group(1))
  return name.replace(f".layer.{i}.", f".layer.{i + 1}.", 1)


def _is_paired(state: dict[str, np.ndarray]) -> bool:
  """Whether the fusion layers share their cross-attention key and value
  in pairs (ALBEF's NLVR2 model)."""
  shared = {k: int(_SHARED.match(k).group(1)) for k in state
            if _SHARED.match(k)}
  layers = sorted(set(shared.values()))
  if not layers or len(layers) % 2:
    return False
  firsts = set(layers[::2])
  return all(_partner(k) in state and np.array_equal(state[k],
                                                     state[_partner(k)])
             for k, i in shared.items() if i in firsts)


@functools.lru_cache(maxsize=8)
def _layout_of(file: str, stamp: tuple):
  del stamp  # in the key: a rewritten file is read again
  state = read_state(file)
  return {k: tuple(v.shape) for k, v in state.items()}, _is_paired(state)


def _layout(path: str):
  file = os.path.realpath(_file(path))
  st = os.stat(file)
  return _layout_of(file, (st.st_mtime_ns, st.st_size))


def shapes(path: str) -> dict[str, tuple[int, ...]]:
  """Every adapted tensor's shape (`read_state`'s names), read once per
  file: the architecture, head and task checks before a run all ask."""
  return _layout(path)[0]


def paired(path: str) -> bool:
  """Whether the checkpoint is ALBEF's NLVR2 model (fusion layers sharing
  their cross-attention key and value in pairs)."""
  return _layout(path)[1]


def _shape(state, name: str, path: str) -> tuple[int, ...]:
  if name not in state:
    raise errors.CheckpointError(
        f"{path} has no tensor {name!r}: not an ALBEF retrieval checkpoint "
        f"(its tensors begin {sorted(state)[:3]})")
  return state[name]


def model_config(path: str) -> dict:
  """`AlbefRetrieval`'s architecture arguments, from the tensor shapes and
  the heads of a `config.json` beside the file (else width / 64)."""
  state = shapes(path)
  file = _file(path)
  vw, _, patch, _ = _shape(state, "visual_encoder.patch_embed.proj.weight",
                           file)
  grid = round((_shape(state, _POS_EMBED, file)[1] - 1) ** 0.5)
  vocab, tw = _shape(state, "text_encoder.embeddings.word_embeddings.weight",
                     file)
  layers = clip_weights.count_layers(state, "text_encoder.encoder.layer.")
  cross = [i for i in range(layers) if
           f"text_encoder.encoder.layer.{i}.crossattention.self.query.weight"
           in state]
  if not cross or cross != list(range(cross[0], layers)):
    raise errors.CheckpointError(
        f"{file}: cross-attention in text layers {cross} of {layers}; "
        "ALBEF's retrieval model has it in its last layers only")
  sidecar = os.path.join(os.path.dirname(file), "config.json")
  heads = (io_utils.read_json(sidecar, what="ALBEF heads file",
                              remedy="write it as {\"vision_heads\": 12, "
                              "\"text_heads\": 12}, or remove it",
                              error=errors.CheckpointError)
           if os.path.exists(sidecar) else {})
  return dict(
      # Retrieval and pretrained checkpoints have ITC projections; the
      # SNLI-VE ones a `cls_head` instead.
      embed_dim=(state["vision_proj.weight"][0]
                 if "vision_proj.weight" in state else None),
      num_classes=(state["cls_head.2.weight"][0]
                   if "cls_head.2.weight" in state else None),
      image_size=grid * patch, patch_size=patch, vision_width=vw,
      vision_layers=clip_weights.count_layers(state,
                                              "visual_encoder.blocks."),
      vision_heads=int(heads.get("vision_heads", vw // 64)),
      vision_mlp_dim=_shape(state, "visual_encoder.blocks.0.mlp.fc1.weight",
                            file)[0],
      vocab_size=vocab, context_length=_shape(state, _POSITIONS, file)[0],
      text_width=tw, text_layers=cross[0], fusion_layers=layers - cross[0],
      text_heads=int(heads.get("text_heads", tw // 64)),
      text_mlp_dim=_shape(
          state, "text_encoder.encoder.layer.0.intermediate.dense.weight",
          file)[0])


def model_keys(path: str) -> dict:
  """The `model.*` keys (with `model.arch = "albef"`) of the checkpoint's
  architecture; `image_size` is the checkpoint's (another one reads
  resized position embeddings)."""
  c = model_config(path)
  ratio = c["vision_mlp_dim"] / c["vision_width"]
  if c["text_mlp_dim"] != round(ratio * c["text_width"]):
    raise errors.CheckpointError(
        f"{path}: the image and text MLPs are {c['vision_mlp_dim']} / "
        f"{c['vision_width']} and {c['text_mlp_dim']} / {c['text_width']} "
        "of their widths; model.mlp_ratio describes one ratio for both")
  keys = {k: c[k] for k in (
      "image_size", "patch_size", "vision_width", "vision_layers",
      "vision_heads", "vocab_size", "text_width", "text_layers",
      "text_heads", "fusion_layers")}
  if c["embed_dim"] is not None:
    keys["embed_dim"] = c["embed_dim"]
  keys.update(mlp_ratio=ratio, text_positions=c["context_length"],
              eot_id=hf_state.sep_id(_file(path), 102))
  return keys


def check_model_config(path: str, model_cfg) -> None:
  """Raises `ConfigError` listing every `model.*` key that differs from
  the checkpoint's architecture (the image size may differ)."""
  wanted = model_keys(path)
  wanted.pop("image_size")
  bad_size = model_cfg["image_size"] % model_cfg["patch_size"]
  hf_state.check_keys(
      path, model_cfg, wanted, positions="the text encoder's {n} positions",
      remedy="Set these keys (albef_weights.model_keys(path) gives them)",
      extra=[f"model.image_size = {model_cfg['image_size']} is not a "
             f"multiple of the patch size {model_cfg['patch_size']}"]
      if bad_size else [])


def has_head(path: str, task=None) -> bool:
  """Whether the checkpoint holds `task`'s head: a classifier's
  `cls_head`, or retrieval's `itm_head` and projections."""
  state = shapes(path)
  if task is not None and task.name == "classification":
    return "cls_head.0.weight" in state
  return "itm_head.weight" in state and "vision_proj.weight" in state


def check_task(path: str, task) -> None:
  """Raises `ConfigError` when a classifier checkpoint answers another
  number of classes than the dataset's (a pretrained one has no
  classifier to fit), or reads another number of images (NLVR2's paired
  fusion layers for two, any other layout for one)."""
  if task.name != "classification":
    return
  if task.num_images == 2 and not paired(path):
    raise errors.ConfigError(
        f"{path} is not ALBEF's NLVR2 model (its fusion layers do not "
        "share their cross-attention key and value in pairs); two images "
        "per example need albef_nlvr_lavis.pt as model.original and the "
        "text-assignment pretrained pretrain_model_nlvr.pth as "
        f"model.pretrained ({DOWNLOADS['pretrain_model_nlvr.pth']})")
  if task.num_images == 1 and paired(path):
    raise errors.ConfigError(
        f"{path} is ALBEF's NLVR2 model (two images per example); this "
        "dataset has one. Use an SNLI-VE checkpoint or the pretrained "
        "ALBEF.pth")
  classes = model_config(path)["num_classes"]
  if classes is not None and classes != task.num_classes:
    raise errors.ConfigError(
        f"{path} classifies into {classes} classes; this dataset has "
        f"{task.num_classes}. Use a checkpoint fine-tuned on this task")


_RETRIEVAL_ONLY = ("vision_proj.", "text_proj.", "itm_head.", "logit_scale")


def _unshare(state: dict, params: dict, source: str) -> None:
  """Drops from `state` the first layer's copy of each key and value a
  pair of fusion layers shares, where the model holds them once (under
  the second layer), after checking the copies are one tensor."""
  encoder = params["text_encoder"]["encoder"]
  for name in [k for k in state if _SHARED.match(k)]:
    m = _SHARED.match(name)
    held = encoder.get(f"layer_{m.group(1)}", {}).get(
        "crossattention", {}).get("self", {})
    if not held or m.group(2) in held:
      continue
    partner = _partner(name)
    if partner not in state or not np.array_equal(state[name],
                                                  state[partner]):
      raise errors.CheckpointError(
          f"{source}: tensor {name!r} is not {partner!r}; ALBEF's NLVR2 "
          "model shares a pair of fusion layers' cross-attention key and "
          "value, so this is not an NLVR2 checkpoint")
    del state[name]


def import_params(params: dict, path: str) -> dict:
  """`params` of an `AlbefRetrieval` or `AlbefClassifier` of the
  checkpoint's architecture (at any image size) with every tensor of the
  checkpoint in place."""
  state = read_state(path)
  _unshare(state, params, _file(path))
  want = params["visual_encoder"]["pos_embed"].shape
  if _POS_EMBED in state and state[_POS_EMBED].shape != want:
    state[_POS_EMBED] = positions.resize(state[_POS_EMBED],
                                         round((want[1] - 1) ** 0.5))
  skip = ()
  if "cls_head_0" in params:  # the classifier: no ITC or matching head
    state = {k: v for k, v in state.items()
             if not k.startswith(_RETRIEVAL_ONLY)}
    if "cls_head.0.weight" not in state:  # pretrained: a fresh classifier
      skip = [f"{m}/{leaf}" for m in ("cls_head_0", "cls_head_2")
              for leaf in params[m]]
  return hf_state.import_state(params, state, source=_file(path),
                               skip=skip)


def load_towers(path: str, params: dict, model_cfg) -> dict:
  """`params` (a `{"params": ...}` tree of `models.build_albef`) with the
  checkpoint's tensors: every parameter."""
  del model_cfg  # the architecture was checked by `check_model_config`
  return hf_state.import_whole(path, params, import_params)
