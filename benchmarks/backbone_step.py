"""One training step of a mid-size backbone per modality at its real shapes
on this machine's CPU, here (Flax, the project's jitted step: cross-entropy,
AdamW with clipping) and in transformers' PyTorch (the same architecture
from its default config, random weights, `torch.optim.AdamW`): seconds
per step, the first JAX step's compile time, peak resident memory, and
the ratio JAX / PyTorch measured in the same run.

  pip install torch==2.13.0 && pip install -e '.[torch]'
  python benchmarks/backbone_step.py [--models=bert,vit,resnet,hubert,videomae]
      [--steps=3]

Each (framework, model) runs in its own process, one after another, so
peak RSS is that run's alone; nothing downloads (random initialisation).
Both sides run in inference mode for normalisation and dropout (no
dropout, frozen batch-norm statistics, as unlearning here does) while
taking full gradients. Run it with nothing else on the machine: the ratio
is what to read, not the seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

# model -> (modality, batch, what it is)
MODELS = {
    "bert": ("text", 8, "BERT-base, 8 x 128 tokens, 2 classes"),
    "vit": ("image", 8, "ViT-B/16, 8 x 224 px, 100 classes"),
    "resnet": ("image", 8, "ResNet-50, 8 x 224 px, 100 classes"),
    "hubert": ("audio", 4, "HuBERT-base, 4 x 1 s at 16 kHz, 12 classes"),
    "videomae": ("video", 1, "VideoMAE-base, 1 x 16 x 224 px, 101 classes"),
}
_CLASSES = {"bert": 2, "vit": 100, "resnet": 100, "hubert": 12,
            "videomae": 101}


def _inputs(name: str, batch: int, rng):
  """NHWC (JAX) inputs; the PyTorch side transposes."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if name == "bert":
    return rng.integers(1000, 30000, size=(batch, 128)).astype(np.int32)
  if name in ("vit", "resnet"):
    return rng.normal(size=(batch, 224, 224, 3)).astype(np.float32)
  if name == "hubert":
    return rng.uniform(-0.5, 0.5, size=(batch, 16000)).astype(np.float32)
  return rng.normal(size=(batch, 16, 224, 224, 3)).astype(np.float32)


def _flax_model(name: str):
  from mmul_jax.models import bert_classifier  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import resnet_classifier  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import speech_classifier  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import videomae_classifier  # pylint: disable=g-import-not-at-top
  from mmul_jax.models import vit_classifier  # pylint: disable=g-import-not-at-top
  base = dict(width=768, num_layers=12, num_heads=12, mlp_dim=3072)
  n = _CLASSES[name]
  if name == "bert":
    return bert_classifier.BertClassifier(
        layout="bert", num_classes=n, vocab_size=30522, max_positions=512,
        eot_id=102, **base)
  if name == "vit":
    return vit_classifier.VitClassifier(num_classes=n, image_size=224,
                                        patch_size=16, **base)
  if name == "resnet":
    return resnet_classifier.ResnetClassifier(
        num_classes=n, stem_width=64, widths=(256, 512, 1024, 2048),
        depths=(3, 4, 6, 3), bottleneck=True)
  if name == "hubert":
    return speech_classifier.SpeechClassifier(
        num_classes=n, root="hubert", conv_dim=(512,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        feat_extract_norm="group", conv_bias=False, pos_kernel=128,
        pos_groups=16, stable_layer_norm=False, projection_layer_norm=True,
        projector_size=256, normalize=False, **base)
  return videomae_classifier.VideomaeClassifier(
      num_classes=n, image_size=224, patch_size=16, tubelet_size=2, **base)


def run_jax(name: str, steps: int) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from mmul_jax import losses  # pylint: disable=g-import-not-at-top
  from mmul_jax import optim  # pylint: disable=g-import-not-at-top
  from mmul_jax.training import loop  # pylint: disable=g-import-not-at-top
  from mmul_jax.training import state as state_lib  # pylint: disable=g-import-not-at-top
  batch = MODELS[name][1]
  rng = np.random.default_rng(0)
  x = _inputs(name, batch, rng)
  y = rng.integers(0, _CLASSES[name], size=batch).astype(np.int32)
  model = _flax_model(name)
  variables = jax.jit(lambda k: model.init(k, x[:1], method=model.classify))(
      jax.random.key(0))

  def ce(params, frozen, b, *, rng):
    del frozen, rng
    logits = model.apply(params, b["x"], method=model.classify)[
        "class_logits"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, b["y"][:, None], 1)), {}

  term = losses.loss_term(ce)
  tx = optim.adamw(learning_rate=1e-5, num_steps=100, warmup_steps=0,
                   weight_decay=0.01, grad_clip_norm=1.0).tx
  state = state_lib.create(variables, tx, term.init(variables))
  step = jax.jit(loop.step_body(term, tx), donate_argnums=0)
  b = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
  key = jax.random.key(1)
  t0 = time.perf_counter()
  state, m = step(state, b, key)
  jax.block_until_ready(m)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(steps):
    state, m = step(state, b, key)
  jax.block_until_ready(m)
  return {"seconds": (time.perf_counter() - t0) / steps,
          "first_step_seconds": first, "loss": float(m["loss"])}


def run_torch(name: str, steps: int) -> dict:
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  batch = MODELS[name][1]
  rng = np.random.default_rng(0)
  x = _inputs(name, batch, rng)
  y = torch.from_numpy(rng.integers(0, _CLASSES[name], size=batch))
  n = _CLASSES[name]
  t = transformers
  if name == "bert":
    model = t.BertForSequenceClassification(t.BertConfig(num_labels=n))
    kwargs = {"input_ids": torch.from_numpy(x).long()}
  elif name == "vit":
    model = t.ViTForImageClassification(t.ViTConfig(num_labels=n))
    kwargs = {"pixel_values": torch.from_numpy(x).permute(0, 3, 1, 2)}
  elif name == "resnet":
    model = t.ResNetForImageClassification(t.ResNetConfig(num_labels=n))
    kwargs = {"pixel_values": torch.from_numpy(x).permute(0, 3, 1, 2)}
  elif name == "hubert":
    model = t.HubertForSequenceClassification(t.HubertConfig(num_labels=n))
    kwargs = {"input_values": torch.from_numpy(x)}
  else:
    model = t.VideoMAEForVideoClassification(t.VideoMAEConfig(num_labels=n))
    kwargs = {"pixel_values": torch.from_numpy(x).permute(0, 1, 4, 2, 3)}
  model.eval()  # no dropout, frozen batch-norm statistics: as here
  opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)

  def one():
    opt.zero_grad(set_to_none=True)
    loss = model(**kwargs, labels=y).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss)

  t0 = time.perf_counter()
  one()
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(steps):
    loss = one()
  return {"seconds": (time.perf_counter() - t0) / steps,
          "first_step_seconds": first, "loss": loss}


def _worker(framework: str, name: str, steps: int) -> None:
  out = (run_jax if framework == "jax" else run_torch)(name, steps)
  out["peak_rss_mb"] = resource.getrusage(
      resource.RUSAGE_SELF).ru_maxrss / 1024
  print(json.dumps(out))


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--steps", type=int, default=3)
  p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
  a = p.parse_args(argv)
  if a.worker:
    _worker(*a.worker, a.steps)
    return 0
  names = [n.strip() for n in a.models.split(",") if n.strip()]
  unknown = sorted(set(names) - set(MODELS))
  if unknown:
    print(f"error: unknown model(s) {unknown}; choose from "
          f"{sorted(MODELS)}", file=sys.stderr)
    return 2
  if not all(importlib.util.find_spec(m) for m in ("torch",
                                                      "transformers")):
    print("error: the PyTorch side needs torch and transformers: pip "
          "install torch==2.13.0 && pip install -e '.[torch]'",
          file=sys.stderr)
    return 2
  rows = []
  for name in names:
    row = {"model": name, "what": MODELS[name][2]}
    for fw in ("jax", "torch"):
      r = subprocess.run(
          [sys.executable, os.path.abspath(__file__), "--worker", fw, name,
           f"--steps={a.steps}"], capture_output=True, text=True)
      if r.returncode:
        print(f"{fw} {name} failed:\n{r.stderr[-2000:]}", file=sys.stderr)
        return 1
      row[fw] = json.loads(r.stdout.strip().splitlines()[-1])
    rows.append(row)
    j, t = row["jax"], row["torch"]
    print(f"{name:9s} {MODELS[name][2]}: JAX {j['seconds']:.2f} s/step "
          f"(first {j['first_step_seconds']:.1f} s), PyTorch "
          f"{t['seconds']:.2f} s/step, ratio JAX/PyTorch "
          f"{j['seconds'] / t['seconds']:.2f}; peak RSS JAX "
          f"{j['peak_rss_mb']:.0f} MB, PyTorch {t['peak_rss_mb']:.0f} MB "
          f"(ratio {j['peak_rss_mb'] / t['peak_rss_mb']:.2f})", flush=True)
  print(json.dumps(rows))
  return 0


if __name__ == "__main__":
  sys.exit(main())
