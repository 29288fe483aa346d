"""Hyperparameter recipes that several config files share.

`clip_retrieval` is the reference's retrieval fine-tuning and unlearning
recipe (spec §1.5, ALBEF retrieval configs) on a pretrained CLIP: the
original model fine-tunes for 5 epochs over the training images, unlearning
runs 5 epochs over Df with Df batch 16 (half the training batch of 32) and
Dr batch 64, AdamW with cosine decay to a tenth, ITC top-k re-ranked by the
matching head, MMUL's three weights at the reference's 1.
"""

from __future__ import annotations

import ml_collections

from mmul_jax import config_schema
from mmul_jax import errors
from mmul_jax.data import datasets


def mmul_demo(c: ml_collections.ConfigDict) -> None:
  """The demo's deletion set and MMUL settings (configs/mmul_demo.py says
  how they were chosen)."""
  c.deletion.ratio = 5.0
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.method.name = "mmul"
  c.method.mmul.md_weight = 1.0
  c.method.mmul.ukr_weight = 30.0
  c.method.mmul.mkr_weight = 30.0
  c.method.mmul.negative_source = "df"


def small_text_to_image(c: ml_collections.ConfigDict, dataset: str) -> None:
  """The embedded text-to-image sets' recipe (configs/shapes_t2i.py,
  configs/shapes_cifar_t2i.py): `dataset` at 16 px (about 10 minutes
  per model on 2 CPU cores; 32 px ran at about 1 step/s, 50 minutes), a
  UNet of 32 and 64 channels with attention at the second level, a
  2-layer text tower 64 wide with CLIP's activation, 2,000 steps at batch
  32 and lr 1e-3; unlearning 100 steps at Df batch 16, Dr batch 32."""
  c.data.name = dataset
  c.data.image_size = c.model.image_size = 16
  c.data.mean = c.data.std = (0.5, 0.5, 0.5)  # images in [-1, 1]
  c.model.arch = "unet"
  c.model.unet_channels = (32, 64)
  c.model.unet_attention_levels = (1,)
  c.model.text_width = 64
  c.model.text_layers = 2
  c.model.text_heads = 4
  c.model.activation = "quick_gelu"
  c.train.batch_size = 32
  c.train.num_steps = 2000
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.unlearn.df_batch_size = 16
  c.unlearn.dr_batch_size = 32
  c.unlearn.num_steps = 100
  c.eval.batch_size = 64


# Each method's demo setting (`--config=configs/mmul_demo.py:method=NAME`),
# selected by `scripts/compare_methods.py` as the one closest to the
# retrained model on training data (Df and Dr recall@1, Df-vs-Dr AUC),
# without test data, from the same budget for every method: the learning
# rate in {1e-4, 3e-4, 1e-3} (DTD's in {0.01, 0.03, 0.1}, Fisher's alpha in
# {1e-8, 1e-7, 1e-6}); other hyperparameters are the method's defaults.
# Retraining has nothing to tune.
METHOD_DEMOS = {
    "bad_teaching": {"unlearn.learning_rate": 0.0001},
    "delete": {"unlearn.learning_rate": 0.0001},
    "dtd": {"unlearn.learning_rate": 0.03},
    "finetune": {"unlearn.learning_rate": 0.0003},
    "fisher": {"method.fisher.alpha": 1e-08},
    "l1_sparse": {"unlearn.learning_rate": 0.0003},
    "neggrad": {"unlearn.learning_rate": 0.0003},
    "neggrad_plus": {"unlearn.learning_rate": 0.0001},
    "npo": {"unlearn.learning_rate": 0.001},
    "randlabel": {"unlearn.learning_rate": 0.0003},
    "retrain": {},
    "salun": {"unlearn.learning_rate": 0.0003},
    "scrub": {"unlearn.learning_rate": 0.0003},
}


def method_demo(c: ml_collections.ConfigDict, method: str) -> None:
  """The demo with `method` at its demo setting (`METHOD_DEMOS`; "mmul":
  `mmul_demo`), in the demo's workdir, so the original and retrained
  models are trained once for all of them."""
  if method == "mmul":
    mmul_demo(c)
    return
  if method not in METHOD_DEMOS:
    raise errors.ConfigError(
        f"the demo has no setting for method {method!r}; use one of "
        f"{['mmul', *sorted(METHOD_DEMOS)]}, or "
        f"--config.method.name={method} for its defaults")
  c.workdir = "runs/mmul_demo"
  c.method.name = method
  c.update_from_flattened_dict(METHOD_DEMOS[method])


def _clip(c, dataset: str, preset: str) -> None:
  """A CLIP-initialised model on `dataset`, with CLIP's preprocessing."""
  c.data.name = dataset
  c.data.image_size = 224
  c.data.mean, c.data.std = config_schema.CLIP_MEAN, config_schema.CLIP_STD
  config_schema.use_preset(c, preset)
  c.model.pretrained = f"~/checkpoints/clip-{preset.replace('_', '-')}"


def _optimisation(c, *, batch_size: int, train_steps: int, df_units: int,
                  epochs: int, learning_rate: float, end_ratio: float,
                  weight_decay: float, warmup_steps: int) -> None:
  """Training on D / Dr and unlearning `epochs` passes over Df with the
  reference's batches (Df: half the training batch; Dr: 64)."""
  c.deletion.count = df_units
  c.train.batch_size = batch_size
  c.train.num_steps = train_steps
  c.train.learning_rate = learning_rate
  c.train.warmup_steps = warmup_steps
  c.train.end_learning_rate_ratio = end_ratio
  c.train.weight_decay = weight_decay
  c.train.checkpoint_every = 2000
  c.train.log_every = 100
  c.unlearn.df_batch_size = batch_size // 2
  c.unlearn.dr_batch_size = 64
  c.unlearn.num_steps = epochs * df_units // c.unlearn.df_batch_size
  c.unlearn.learning_rate = learning_rate
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = weight_decay
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20
  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)
  c.eval.batch_size = 128


def clip_retrieval(c: ml_collections.ConfigDict, *, dataset: str,
                   train_images: int, df_images: int, weight_decay: float,
                   rerank_k: int, preset: str = "vit_b16") -> None:
  """Sets `c` (a default config) to the recipe for `dataset`."""
  _clip(c, dataset, preset)
  _optimisation(c, batch_size=32, train_steps=5 * train_images // 32,
                df_units=df_images, epochs=5, learning_rate=1e-5,
                end_ratio=0.1, weight_decay=weight_decay, warmup_steps=500)
  c.eval.rerank_k = rerank_k
  # The AUC needs 5 disjoint samples of |Df| retained images.
  c.eval.max_dr_images = min(5 * df_images, train_images - df_images)


# BLIP base's retrieval models (Salesforce/blip-itm-base-coco, -flickr):
# its config.json's sizes as `model.*` keys, texts padded to BLIP's 35.
BLIP_BASE = dict(embed_dim=256, image_size=384, patch_size=16,
                 vision_width=768, vision_layers=12, vision_heads=12,
                 vocab_size=30524, text_width=768, text_layers=12,
                 text_heads=12, mlp_ratio=4.0, eot_id=102,
                 text_positions=512, context_length=35)


def blip_retrieval(c: ml_collections.ConfigDict, *, dataset: str,
                   original: str, train_images: int, df_images: int,
                   rerank_k: int,
                   pretrained: str = "blip/model_base_capfilt_large.pth"
                   ) -> None:
  """`clip_retrieval`'s schedule on BLIP base's retrieval model:
  MultiDelete's setting, the original the task-fine-tuned Hugging Face
  checkpoint `original` (a directory name under ~/checkpoints) as is, the
  retrained reference fine-tuned on Dr from BLIP's pretrained `pretrained`
  (under ~/checkpoints; LAVIS's starting point for BLIP retrieval, its
  224-pixel positions resized to 384), with BLIP's own fine-tuning
  settings (lr 1e-5, weight decay 0.05, 384-pixel images with CLIP's
  normalisation, ITC top-k re-ranked by the matching head)."""
  clip_retrieval(c, dataset=dataset, train_images=train_images,
                 df_images=df_images, weight_decay=0.05, rerank_k=rerank_k)
  c.model.arch = "blip"
  c.model.update(BLIP_BASE)
  c.data.image_size = BLIP_BASE["image_size"]
  c.model.original = f"~/checkpoints/{original}"
  c.model.pretrained = f"~/checkpoints/{pretrained}"


# ViLT-B/32 (`dandelin/vilt-b32-*`): one transformer, the fusion keys.
VILT_B32 = dict(image_size=384, patch_size=32, fusion_width=768,
                fusion_layers=12, fusion_heads=12, mlp_ratio=4.0,
                vocab_size=30522, eot_id=102, text_positions=40,
                context_length=40)


def vilt_classification(c: ml_collections.ConfigDict, *, dataset: str,
                        original: str, pretrained: str, train_rows: int,
                        deletion_ratio: float, epochs: int, batch_size: int,
                        learning_rate: float) -> None:
  """MU-Bench's image-text classification on ViLT-B/32: the original is
  the task-fine-tuned checkpoint `original` as is; unlearning runs
  `epochs` passes over Df at `batch_size` (Df: half of it, Dr: 64) at
  `learning_rate` (MU-Bench's); the retrained reference fine-tunes on Dr
  from the pretrained `pretrained` (MultiDelete's rule) with ViLT's own
  NLVR2 fine-tuning: 10 epochs over the `train_rows` rows at batch 128,
  lr 1e-4 with 10% linear warm-up, weight decay 0.01. Checkpoints are
  directory names under ~/checkpoints; images 384 px with ViLT's
  normalisation (0.5, 0.5)."""
  c.data.name = dataset
  c.data.image_size = VILT_B32["image_size"]
  c.data.mean, c.data.std = (0.5,) * 3, (0.5,) * 3
  c.model.arch = "vilt"
  c.model.update(VILT_B32)
  c.model.original = f"~/checkpoints/{original}"
  c.model.pretrained = f"~/checkpoints/{pretrained}"
  retrain_batch = 128
  c.train.batch_size = retrain_batch
  c.train.num_steps = 10 * train_rows // retrain_batch
  c.train.learning_rate = 1e-4
  c.train.warmup_steps = c.train.num_steps // 10
  c.train.end_learning_rate_ratio = 0.0
  c.train.weight_decay = 0.01
  c.train.checkpoint_every = 1000
  c.train.log_every = 100
  c.deletion.ratio = deletion_ratio
  c.unlearn.df_batch_size = batch_size // 2
  c.unlearn.dr_batch_size = 64
  df_rows = round(train_rows * deletion_ratio / 100)
  c.unlearn.num_steps = epochs * df_rows // c.unlearn.df_batch_size
  c.unlearn.learning_rate = learning_rate
  c.unlearn.schedule = "cosine"
  c.unlearn.weight_decay = 0.01
  c.unlearn.checkpoint_every = 200
  c.unlearn.log_every = 20
  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)
  c.eval.batch_size = 64
  _label_targets(c)


# ALBEF base (LAVIS's albef retrieval models): ViT-B/16, BERT base split
# into 6 text and 6 fusion layers, texts padded to LAVIS's 30.
ALBEF_BASE = dict(embed_dim=256, image_size=384, patch_size=16,
                  vision_width=768, vision_layers=12, vision_heads=12,
                  vocab_size=30522, text_width=768, text_layers=6,
                  fusion_layers=6, text_heads=12, mlp_ratio=4.0, eot_id=102,
                  text_positions=512, context_length=30)


def albef_retrieval(c: ml_collections.ConfigDict, *, dataset: str,
                    original: str, train_images: int, df_images: int,
                    weight_decay: float, rerank_k: int) -> None:
  """MultiDelete's ALBEF retrieval setting: the original is LAVIS's
  task-fine-tuned `original` (a file name under ~/checkpoints/albef) as
  is; the retrained reference fine-tunes on Dr from the pretrained
  ALBEF.pth (256-pixel position embeddings resized to 384) with
  `clip_retrieval`'s schedule (MultiDelete's ALBEF rows: lr 1e-5 to 1e-6,
  5 epochs, batch 32; `weight_decay`); 384-pixel images with CLIP's
  normalisation, as LAVIS. bert-base-uncased's tokenizer.json sits beside
  the checkpoints."""
  clip_retrieval(c, dataset=dataset, train_images=train_images,
                 df_images=df_images, weight_decay=weight_decay,
                 rerank_k=rerank_k)
  c.model.arch = "albef"
  c.model.update(ALBEF_BASE)
  c.data.image_size = ALBEF_BASE["image_size"]
  c.model.original = f"~/checkpoints/albef/{original}"
  c.model.pretrained = "~/checkpoints/albef/ALBEF.pth"


def albef_classification(c: ml_collections.ConfigDict, *, dataset: str,
                         original: str, pretrained: str = "ALBEF.pth",
                         fusion_layers: int = 6, **settings) -> None:
  """MultiDelete's ALBEF classification setting: `clip_classification`'s
  schedule with `settings` (MultiDelete's rows) on ALBEF base with
  `fusion_layers` (NLVR2's model: 12, six pairs), the original LAVIS's
  task-fine-tuned `original` (a file name under ~/checkpoints/albef) as
  is, the retrained reference fine-tuned on Dr from `pretrained` (a
  fresh classifier); 384-pixel images, texts of up to 40 tokens
  (LAVIS's)."""
  clip_classification(c, dataset=dataset, **settings)
  c.model.arch = "albef"
  c.model.update(ALBEF_BASE)
  c.model.fusion_layers = fusion_layers
  c.model.context_length = 40
  c.data.image_size = ALBEF_BASE["image_size"]
  c.model.original = f"~/checkpoints/albef/{original}"
  c.model.pretrained = f"~/checkpoints/albef/{pretrained}"


def _label_targets(c) -> None:
  """Relabelling methods draw wrong classes on classification tasks."""
  c.method.randlabel.target = "labels"
  c.method.salun.target = "labels"


def clip_classification(c: ml_collections.ConfigDict, *, dataset: str,
                        train_rows: int, df_units: int, learning_rate: float,
                        end_ratio: float, weight_decay: float, epochs: int,
                        batch_size: int, warmup_steps: int = 0,
                        preset: str = "vit_b16") -> None:
  """The reference's NLVR2 / SNLI-VE recipe (spec §1.5, ALBEF nlvr and
  snli_ve) on a pretrained CLIP with a class head over the fusion encoder:
  `epochs` over the `train_rows` training sentences at `batch_size`,
  unlearning `epochs` passes over the `df_units` deleted units at half that
  batch with Dr batch 64, cosine decay to `end_ratio` of the rate."""
  _clip(c, dataset, preset)
  _optimisation(c, batch_size=batch_size,
                train_steps=epochs * train_rows // batch_size,
                df_units=df_units, epochs=epochs,
                learning_rate=learning_rate, end_ratio=end_ratio,
                weight_decay=weight_decay, warmup_steps=warmup_steps)
  _label_targets(c)
  c.eval.max_dr_images = 5 * df_units  # units; the AUC's 5 samples


def shapes_classification(c: ml_collections.ConfigDict, *,
                          dataset: str) -> None:
  """The embedded NLVR2-style / VE-style demo: the tiny model with a class
  head, 5% of 2,000 units deleted, 4,000 training steps (with 1,500 the
  original memorised too little for a membership signal), MMUL with unit
  weights at lr 3e-4 for 300 steps (chosen from 8 settings by the
  comparison's retrain-gap rule, without test data;
  docs/experiments/issues_4_7.md, issue 6)."""
  c.data.name = dataset
  c.deletion.ratio = 5.0
  c.train.num_steps = 4000
  c.unlearn.num_steps = 300
  c.unlearn.learning_rate = 3e-4
  c.method.name = "mmul"
  c.method.mmul.update(md_weight=1.0, ukr_weight=1.0, mkr_weight=1.0)
  _label_targets(c)


def unimodal_classification(c: ml_collections.ConfigDict, *, dataset: str,
                            method: str = "randlabel") -> None:
  """An embedded unimodal task (MU-Bench's CIFAR / IMDB / DDI / Speech
  Commands / UCF101 in miniature): the tiny model's tower with a class
  head, 5% of 2,000 examples deleted, the task's training steps
  (its `GridRecipe.train_steps`: enough for the original to fit the atypical
  labels, the membership signal), `method` at the demo's unlearning
  budget. MMUL is refused here (one modality); the relabelling methods
  draw wrong classes."""
  c.deletion.ratio = 5.0
  c.method.name = method
  mubench_task(c, dataset)


def mubench_unimodal(c: ml_collections.ConfigDict, *, dataset: str,
                     train_rows: int, epochs: int, batch_size: int,
                     learning_rate: float, weight_decay: float,
                     method: str = "randlabel",
                     preset: str = "vit_b16") -> None:
  """MU-Bench's recipe for a unimodal dataset (spec §3, its per-dataset
  learning rate / epochs / batch), on the CLIP tower of the modality with a
  class head (MU-Bench fine-tunes pretrained backbones: ViT / BERT-style):
  `epochs` over the `train_rows` training examples, unlearning `epochs`
  passes over a 5% Df at half the batch with Dr batch 64, cosine decay."""
  _clip(c, dataset, preset)
  df_rows = train_rows // 20
  _optimisation(c, batch_size=batch_size,
                train_steps=epochs * train_rows // batch_size,
                df_units=df_rows, epochs=epochs, learning_rate=learning_rate,
                end_ratio=0.0, weight_decay=weight_decay, warmup_steps=0)
  c.deletion.count = 0  # MU-Bench deletes by ratio
  c.deletion.ratio = 5.0
  c.method.name = method
  _label_targets(c)
  c.eval.max_dr_images = 5 * df_rows  # the AUC's 5 samples


def scratch_signal(c: ml_collections.ConfigDict, *, dataset: str,
                   train_rows: int, epochs: int, batch_size: int,
                   learning_rate: float, method: str = "randlabel") -> None:
  """A speech or video dataset on a small ViT trained from scratch (width
  384, 6 layers, 6 heads, patch 16): no pretrained audio or video tower is
  imported (MU-Bench fine-tuned HuBERT / VideoMAE), and MU-Bench gives no
  recipe for these tasks, so the budget is ours: `epochs` at
  `learning_rate` with 5% warmup and cosine decay, unlearning `epochs`
  passes over a 5% Df at the demo's rate ratio."""
  c.data.name = dataset
  c.model.update(embed_dim=384, patch_size=16, vision_width=384,
                 vision_layers=6, vision_heads=6, activation="gelu")
  df_rows = train_rows // 20
  steps = epochs * train_rows // batch_size
  _optimisation(c, batch_size=batch_size, train_steps=steps,
                df_units=df_rows, epochs=epochs, learning_rate=learning_rate,
                end_ratio=0.0, weight_decay=0.05, warmup_steps=steps // 20)
  c.unlearn.learning_rate = learning_rate / 10
  c.deletion.count = 0
  c.deletion.ratio = 5.0
  c.method.name = method
  _label_targets(c)
  c.eval.max_dr_images = 5 * df_rows


# The recipes a real dataset's `GridRecipe.recipe` names; each dataset's
# module holds its settings (MU-Bench's rows, epochs, batch and rate).
GRID_RECIPES = {"clip_classification": clip_classification,
                "mubench_unimodal": mubench_unimodal,
                "scratch_signal": scratch_signal}


def real_of(dataset: str) -> str:
  """The real dataset `dataset` stands in for in MU-Bench's grid (itself
  when it stands in for none)."""
  spec = datasets.DATASETS.get(dataset)
  return (spec and spec.grid and spec.grid.stands_in_for) or dataset


def mubench_task(c: ml_collections.ConfigDict, dataset: str) -> None:
  """Sets `c` to the recipe of one task of MU-Bench's grid (the dataset's
  `GridRecipe`): an embedded one's data and training steps (its
  unlearning budget stays the config's, equal across tasks), or a real
  one's full recipe (MU-Bench's where it has one). The task's config file
  calls this too."""
  spec = datasets.DATASETS.get(dataset)
  grid = spec and spec.grid
  if not grid:
    raise config_schema.ConfigError(
        f"no MU-Bench grid recipe for dataset {dataset!r}; choose from "
        f"{sorted(n for n, s in datasets.DATASETS.items() if s.grid)}")
  if grid.train_steps:
    c.data.name = dataset
    c.train.num_steps = grid.train_steps
    _label_targets(c)
  else:
    method = c.method.name
    GRID_RECIPES[grid.recipe](c, dataset=dataset, **grid.settings)
    c.update_from_flattened_dict(grid.overrides)
    c.method.name = method


# MU-Bench's text backbones (spec §5): the Hugging Face directory name
# (under ~/checkpoints) -> `model.*` keys of its config.json.
_BASE = dict(text_width=768, text_layers=12, text_heads=12)
_LARGE = dict(text_width=1024, text_layers=24, text_heads=16)
TEXT_BACKBONES = {
    "bert-base-uncased": dict(arch="bert", vocab_size=30522, eot_id=102,
                              **_BASE),
    "bert-large-uncased": dict(arch="bert", vocab_size=30522, eot_id=102,
                               **_LARGE),
    "roberta-base": dict(arch="roberta", vocab_size=50265, eot_id=2,
                         **_BASE),
    "roberta-large": dict(arch="roberta", vocab_size=50265, eot_id=2,
                          **_LARGE),
    "distilbert-base-uncased": dict(arch="distilbert", vocab_size=30522,
                                    eot_id=102, **{**_BASE,
                                                   "text_layers": 6}),
    "biobert-v1.1": dict(arch="bert", vocab_size=28996, eot_id=102,
                         **_BASE),
    # PubMedBERT's own uncased vocabulary starts [PAD] [UNK] [CLS] [SEP]
    # (from the model card's files; the download's are checked before
    # compute and any difference named).
    "pubmedbert-abstract": dict(arch="bert", vocab_size=30522, eot_id=3,
                                **_BASE),
    "pubmedbert-fulltext": dict(arch="bert", vocab_size=30522, eot_id=3,
                                **_BASE),
}


def bert_text(c: ml_collections.ConfigDict, *, dataset: str,
              backbone: str) -> None:
  """MU-Bench's recipe for a text dataset (`mubench_task`: its learning
  rate, epochs and batch, a 5% Df) on one of its pretrained text
  backbones (`TEXT_BACKBONES`, a Hugging Face download under
  ~/checkpoints): the original fine-tunes on D from it, as MU-Bench
  trains its originals (or set `model.original` to a fine-tuned
  classifier), the retrained reference on Dr; texts of MU-Bench's 128
  tokens."""
  if backbone not in TEXT_BACKBONES:
    raise config_schema.ConfigError(
        f"backbone {backbone!r} is not one of {sorted(TEXT_BACKBONES)}")
  mubench_task(c, dataset)
  c.model.update(TEXT_BACKBONES[backbone])
  c.model.update(mlp_ratio=4.0, text_positions=512, context_length=128)
  c.model.pretrained = f"~/checkpoints/{backbone}"


# MU-Bench's ViT backbones (ImageNet-21k pretrained `ViTModel`s): the
# Hugging Face directory name (under ~/checkpoints) -> `model.*` keys.
IMAGE_BACKBONES = {
    "vit-base-patch16-224-in21k": dict(vision_width=768, vision_layers=12,
                                       vision_heads=12),
    "vit-large-patch16-224-in21k": dict(vision_width=1024,
                                        vision_layers=24, vision_heads=16),
}


def vit_image(c: ml_collections.ConfigDict, *, dataset: str,
              backbone: str) -> None:
  """MU-Bench's recipe for an image dataset (`mubench_task`) on one of its
  ViT backbones (`IMAGE_BACKBONES`, a Hugging Face download under
  ~/checkpoints) at 224 pixels with ViT's normalisation (mean and std
  0.5): the original fine-tunes on D from it, as MU-Bench trains its
  originals (or set `model.original`), the retrained reference on Dr."""
  if backbone not in IMAGE_BACKBONES:
    raise config_schema.ConfigError(
        f"backbone {backbone!r} is not one of {sorted(IMAGE_BACKBONES)}")
  mubench_task(c, dataset)
  c.model.arch = "vit"
  c.model.update(IMAGE_BACKBONES[backbone])
  c.model.update(image_size=224, patch_size=16, mlp_ratio=4.0)
  c.data.image_size = 224
  c.data.mean, c.data.std = (0.5,) * 3, (0.5,) * 3
  c.model.pretrained = f"~/checkpoints/{backbone}"


# MU-Bench's ResNet backbones (ImageNet-1k `ResNetForImageClassification`s,
# their head replaced by the task's): the Hugging Face directory name
# (under ~/checkpoints) -> `model.*` keys of its config.json.
_BASIC = dict(resnet_block="basic", resnet_stem_width=64,
              resnet_widths=(64, 128, 256, 512))
RESNET_BACKBONES = {
    "resnet-18": dict(**_BASIC, resnet_depths=(2, 2, 2, 2)),
    "resnet-34": dict(**_BASIC, resnet_depths=(3, 4, 6, 3)),
    "resnet-50": dict(resnet_block="bottleneck", resnet_stem_width=64,
                      resnet_widths=(256, 512, 1024, 2048),
                      resnet_depths=(3, 4, 6, 3)),
}
# The ImageNet normalisation of the microsoft/resnet-* image processors.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def resnet_image(c: ml_collections.ConfigDict, *, dataset: str,
                 backbone: str) -> None:
  """MU-Bench's recipe for an image dataset (`mubench_task`) on one of its
  ResNet backbones (`RESNET_BACKBONES`, a Hugging Face download of
  microsoft/<backbone> under ~/checkpoints) at 224 pixels with ImageNet's
  normalisation: the original fine-tunes on D from it (its ImageNet head
  replaced by the task's; batch-norm statistics frozen), as MU-Bench
  trains its originals (or set `model.original`), the retrained reference
  on Dr."""
  if backbone not in RESNET_BACKBONES:
    raise config_schema.ConfigError(
        f"backbone {backbone!r} is not one of {sorted(RESNET_BACKBONES)}")
  mubench_task(c, dataset)
  c.model.arch = "resnet"
  c.model.update(RESNET_BACKBONES[backbone])
  c.model.update(resnet_downsample_first_stage=False,
                 resnet_downsample_in_bottleneck=False, image_size=224)
  c.data.image_size = 224
  c.data.mean, c.data.std = IMAGENET_MEAN, IMAGENET_STD
  c.model.pretrained = f"~/checkpoints/{backbone}"


# MU-Bench's speech backbones: the Hugging Face directory name (under
# ~/checkpoints, a download of facebook/<name>) -> `model.arch`.
SPEECH_BACKBONES = {"wav2vec2-base": "wav2vec2", "wav2vec2-large": "wav2vec2",
                    "hubert-base-ls960": "hubert",
                    "hubert-large-ll60k": "hubert",
                    "hubert-xlarge-ll60k": "hubert"}


def _hf_finetune(c: ml_collections.ConfigDict, *, dataset: str, arch: str,
                 backbone: str, learning_rate: float, epochs: int,
                 batch_size: int) -> None:
  """A task whose backbone MU-Bench fine-tunes without giving a recipe:
  `epochs` at `learning_rate` (10% warmup, cosine decay) from
  ~/checkpoints/<backbone>, unlearning `epochs` passes over a 5% Df at a
  tenth of that rate; the config's method kept."""
  method = c.method.name
  mubench_task(c, dataset)
  c.model.arch = arch
  rows = datasets.DATASETS[dataset].grid.settings["train_rows"]
  steps = epochs * rows // batch_size
  _optimisation(c, batch_size=batch_size, train_steps=steps,
                df_units=rows // 20, epochs=epochs,
                learning_rate=learning_rate, end_ratio=0.0,
                weight_decay=0.0, warmup_steps=steps // 10)
  c.unlearn.learning_rate = learning_rate / 10
  c.deletion.count = 0
  c.deletion.ratio = 5.0
  c.method.name = method
  _label_targets(c)
  c.model.pretrained = f"~/checkpoints/{backbone}"


def speech_audio(c: ml_collections.ConfigDict, *, dataset: str,
                 backbone: str) -> None:
  """An audio dataset on one of MU-Bench's speech backbones
  (`SPEECH_BACKBONES`, sized by its config.json) on 1 s of 16 kHz audio:
  the original fine-tunes on D from it (or set `model.original`), the
  retrained reference on Dr. MU-Bench ships no recipe for Speech Commands
  (a loader only), so the optimisation is Hugging Face's
  audio-classification example's (lr 3e-5, 5 epochs, batch 32, 10%
  warmup; `_hf_finetune`)."""
  if backbone not in SPEECH_BACKBONES:
    raise config_schema.ConfigError(
        f"backbone {backbone!r} is not one of {sorted(SPEECH_BACKBONES)}")
  _hf_finetune(c, dataset=dataset, arch=SPEECH_BACKBONES[backbone],
               backbone=backbone, learning_rate=3e-5, epochs=5,
               batch_size=32)
  c.data.audio_samples = 16_000
  c.model.sample_rate = 16_000


# MU-Bench's video backbone (a download of MCG-NJU/<name>).
VIDEO_BACKBONES = ("videomae-base", "videomae-large")


def videomae_video(c: ml_collections.ConfigDict, *, dataset: str,
                   backbone: str) -> None:
  """A video dataset on VideoMAE (sized by its config.json): 16 frames of
  224 pixels with ImageNet's normalisation, the original fine-tuned on D
  from the backbone (or set `model.original`). MU-Bench's UCF101 loader
  is a stub with no recipe, so the optimisation is Hugging Face's
  video-classification tutorial's (lr 5e-5, 4 epochs, batch 8, 10%
  warmup; `_hf_finetune`)."""
  if backbone not in VIDEO_BACKBONES:
    raise config_schema.ConfigError(
        f"backbone {backbone!r} is not one of {sorted(VIDEO_BACKBONES)}")
  _hf_finetune(c, dataset=dataset, arch="videomae", backbone=backbone,
               learning_rate=5e-5, epochs=4, batch_size=8)
  c.data.num_frames = 16
  c.data.image_size = c.model.image_size = 224
  c.data.mean, c.data.std = IMAGENET_MEAN, IMAGENET_STD


# MU-Bench's LoRA settings (its lora_config.py): the modules whose query
# and value projections get adapters, per `model.arch` (PEFT's defaults for
# the BERT family), and the head trained whole (`modules_to_save`).
MUBENCH_LORA = {
    "bert": (("query", "value"), ("classifier",)),
    "roberta": (("query", "value"), ("classifier",)),
    "distilbert": (("q_lin", "v_lin"), ("classifier",)),
    "vit": (("query", "value"), ("classifier",)),
    "vilt": (("query", "value"),
             ("classifier_0", "classifier_1", "classifier_3")),
    "videomae": (("query", "value"), ("classifier",)),
    "hubert": (("q_proj", "v_proj"), ("classifier",)),
    "wav2vec2": (("q_proj", "v_proj"), ("classifier",)),
}
MUBENCH_LORA_PERCENTS = (10, 20, 50)


def mubench_lora(c: ml_collections.ConfigDict, percent: int | str) -> None:
  """MU-Bench's PEFT setting at `percent` % trainable parameters (10, 20
  or 50) for the config's `model.arch`: adapters on the query and value
  projections, the rank chosen at run time for that share (its table's
  ranks for the base models), `lora_alpha = r` (scale 1), the classifier
  trained whole. LoRA dropout (0.1 in MU-Bench) is not applied."""
  percent = int(percent) if str(percent).isdigit() else percent
  if percent not in MUBENCH_LORA_PERCENTS:
    raise config_schema.ConfigError(
        f"MU-Bench's LoRA settings are {MUBENCH_LORA_PERCENTS} %, not "
        f"{percent!r}")
  if c.model.arch not in MUBENCH_LORA:
    raise config_schema.ConfigError(
        f"MU-Bench's LoRA settings cover {sorted(MUBENCH_LORA)}; "
        f"model.arch = {c.model.arch!r} has no query and value projections "
        "to adapt")
  targets, full = MUBENCH_LORA[c.model.arch]
  c.unlearn.update(lora_rank=0, lora_fraction=percent / 100,
                   lora_targets=targets, lora_full=full, lora_alpha=0.0)


# A task of MU-Bench's grid on a named backbone: "<dataset>@<backbone>"
# (`benchmark.datasets`: "cifar100@resnet-50"), the backbone's recipe
# over the dataset's. Several backbones of one dataset make the
# scalability table (model size x method x ratio) one config.
BACKBONE_SEP = "@"
BACKBONE_RECIPES = {
    **{n: bert_text for n in TEXT_BACKBONES},
    **{n: vit_image for n in IMAGE_BACKBONES},
    **{n: resnet_image for n in RESNET_BACKBONES},
    **{n: speech_audio for n in SPEECH_BACKBONES},
    **{n: videomae_video for n in VIDEO_BACKBONES},
}


def split_backbone(name: str) -> tuple[str, str]:
  """"cifar100@resnet-50" -> ("cifar100", "resnet-50"); ("imdb", "")
  without a backbone."""
  dataset, _, backbone = name.partition(BACKBONE_SEP)
  return dataset, backbone


def check_task_name(name: str, registry) -> str | None:
  """Why `name` ("<dataset>" or "<dataset>@<backbone>") names no task of
  the grid, or None."""
  dataset, backbone = split_backbone(name)
  if dataset not in registry:
    return f"unknown dataset {dataset!r}"
  if BACKBONE_SEP in name and backbone not in BACKBONE_RECIPES:
    return (f"unknown backbone {backbone!r} (one of "
            f"{sorted(BACKBONE_RECIPES)})")
  return None


def task_recipe(c: ml_collections.ConfigDict, name: str) -> None:
  """`mubench_task` of the dataset, or the recipe of its named backbone
  (which starts from it)."""
  dataset, backbone = split_backbone(name)
  if not backbone:
    mubench_task(c, dataset)
    return
  BACKBONE_RECIPES[backbone](c, dataset=dataset, backbone=backbone)


def real_task_of(name: str) -> str:
  """`real_of` of the dataset part, the backbone kept."""
  dataset, backbone = split_backbone(name)
  return real_of(dataset) + (BACKBONE_SEP + backbone if backbone else "")
