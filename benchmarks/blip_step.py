"""BLIP base's image-text retrieval model (ViT-B/16, 384-pixel images, BERT
base text encoder) on CPU: one training step in JAX against the same step
in transformers' PyTorch `BlipForImageTextRetrieval`, and JAX's MMUL
step, each in a fresh process (peak RSS is per process).

  python benchmarks/blip_step.py [--batch=8] [--image-size=384] [--steps=1]
      [--mmul-batch=4] [--torch-python=PATH]

The training step is the task loss this project trains retrieval models
with (`tasks/retrieval_terms.training_loss`): ITC over in-batch negatives
and ITM on the true pairs and one hard negative text per image and image
per text (three matching passes), then AdamW. The PyTorch twin calls
transformers' own modules (`vision_model`, `text_encoder` with and without
cross-attention, the projections and `itm_head`) in the same order with
the same losses, from a random model of the same config (no download).
The MMUL step adds a frozen original and Df + Dr batches of
`--mmul-batch` pairs each (default 4: at 8 + 8 it needs more than this
project's 23 GiB CPU machines hold). Prints seconds per step after one warm-up step, the first
step (compilation for JAX), peak RSS, and JAX's ratio to PyTorch. The
PyTorch side needs torch and transformers, in this environment or in the
interpreter `--torch-python` names (without them it prints JAX's figures
alone).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# BLIP base (Salesforce/blip-itm-base-coco's config.json).
BASE = dict(embed_dim=256, patch_size=16, width=768, layers=12, heads=12,
            mlp_dim=3072, vocab_size=30524, text_positions=512,
            context_length=35)


def _batch(n: int, size: int, seed: int) -> dict:
  r = np.random.default_rng(seed)
  text = r.integers(1000, 2000, (n, BASE["context_length"]))
  text[:, 0], text[:, -1] = 101, 102  # [CLS] ... [SEP]
  return {"image": r.normal(size=(n, size, size, 3)).astype(np.float32),
          "text": text.astype(np.int32),
          "image_id": np.arange(n, dtype=np.int32) + 1000 * seed}


def _peak_rss_gib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _timed(step, state, batches, steps):
  import jax
  t0 = time.perf_counter()
  state, m = step(state, batches[0])
  jax.block_until_ready(m)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i in range(steps):
    state, m = step(state, batches[(i + 1) % len(batches)])
  jax.block_until_ready(m)
  return first, (time.perf_counter() - t0) / steps


def run_jax(kind: str, batch: int, size: int, steps: int) -> dict:
  import jax
  import optax
  from mmul_jax import models
  from mmul_jax import tasks
  from mmul_jax.methods import mmul
  from mmul_jax.training import loop
  from mmul_jax.training import sharding
  from mmul_jax.training import state as state_lib
  b = BASE
  model = models.blip.BlipRetrieval(
      embed_dim=b["embed_dim"], image_size=size, patch_size=b["patch_size"],
      vision_width=b["width"], vision_layers=b["layers"],
      vision_heads=b["heads"], vision_mlp_dim=b["mlp_dim"],
      vocab_size=b["vocab_size"], context_length=b["text_positions"],
      text_width=b["width"], text_layers=b["layers"], text_heads=b["heads"],
      text_mlp_dim=b["mlp_dim"])
  part = _batch(1, size, 0)
  params = jax.jit(model.init)(jax.random.key(0), part["image"], part["text"])
  task = tasks.Retrieval(None)
  tx = optax.chain(optax.clip_by_global_norm(1.0),
                   optax.adamw(1e-5, weight_decay=0.05))
  mesh = sharding.make_mesh()
  if kind == "train":
    term = task.task_term(model)
    step = loop.make_step(term, tx, jax.random.key(1), mesh)
    batches = [_batch(batch, size, s) for s in range(2)]
    call = step
  else:
    term = mmul.loss(task, model, md_weight=1.0, ukr_weight=1.0,
                     mkr_weight=1.0, negative_source="df")
    frozen = {"original": params}
    jitted = loop.make_step(term, tx, jax.random.key(1), mesh,
                            with_frozen=True)
    call = lambda state, b: jitted(state, b, frozen)
    batches = [{"df": _batch(batch, size, s), "dr": _batch(batch, size,
                                                           100 + s)}
               for s in range(2)]
  batches = [sharding.shard_batch(x, mesh) for x in batches]
  state = state_lib.create(jax.tree.map(np.array, params), tx,
                           term.init(params))
  first, seconds = _timed(call, state, batches, steps)
  return {"first_step_s": first, "step_s": seconds,
          "peak_rss_gib": _peak_rss_gib()}


def run_torch(batch: int, size: int, steps: int) -> dict:
  import torch
  import transformers
  torch.manual_seed(0)
  b = BASE
  config = transformers.BlipConfig(
      text_config=dict(vocab_size=b["vocab_size"], hidden_size=b["width"],
                       encoder_hidden_size=b["width"],
                       intermediate_size=b["mlp_dim"],
                       num_hidden_layers=b["layers"],
                       num_attention_heads=b["heads"],
                       max_position_embeddings=b["text_positions"]),
      vision_config=dict(hidden_size=b["width"],
                         intermediate_size=b["mlp_dim"],
                         num_hidden_layers=b["layers"],
                         num_attention_heads=b["heads"], image_size=size,
                         patch_size=b["patch_size"]),
      image_text_hidden_size=b["embed_dim"])
  m = transformers.BlipForImageTextRetrieval(config).train()
  logit_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
  opt = torch.optim.AdamW(list(m.parameters()) + [logit_scale], lr=1e-5,
                          weight_decay=0.05)
  f = torch.nn.functional

  def loss_fn(images, text):
    mask = torch.ones_like(text)
    img = m.vision_model(pixel_values=images)[0]
    txt = m.text_encoder(input_ids=text, attention_mask=mask)[0]
    ie = f.normalize(m.vision_proj(img[:, 0]), dim=-1)
    te = f.normalize(m.text_proj(txt[:, 0]), dim=-1)
    sim = ie @ te.T
    logits = sim * logit_scale.exp()
    labels = torch.arange(len(text))
    itc = (f.cross_entropy(logits, labels, reduction="none")
           + f.cross_entropy(logits.T, labels, reduction="none")) / 2
    with torch.no_grad():  # one hard negative each way, as ALBEF samples
      weights = torch.softmax(sim, 1).fill_diagonal_(0) + 1e-9
      neg_text = torch.multinomial(weights, 1)[:, 0]
      neg_image = torch.multinomial(weights.T, 1)[:, 0]
    img_mask = torch.ones(img.shape[:2], dtype=torch.long)

    def fuse(i, t):
      h = m.text_encoder(input_ids=text[t], attention_mask=mask[t],
                         encoder_hidden_states=img[i],
                         encoder_attention_mask=img_mask[i])[0]
      return m.itm_head(h[:, 0])

    rows = torch.arange(len(text))
    pos, nt, ni = fuse(rows, rows), fuse(rows, neg_text), fuse(neg_image,
                                                               rows)
    ones, zeros = torch.ones_like(rows), torch.zeros_like(rows)
    itm = (f.cross_entropy(pos, ones, reduction="none")
           + f.cross_entropy(nt, zeros, reduction="none")
           + f.cross_entropy(ni, zeros, reduction="none")) / 3
    return (itc + itm).mean()

  def step(x):
    images = torch.from_numpy(x["image"]).permute(0, 3, 1, 2)
    loss = loss_fn(images, torch.from_numpy(x["text"]).long())
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    return float(loss)

  batches = [_batch(batch, size, s) for s in range(2)]
  t0 = time.perf_counter()
  step(batches[0])
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i in range(steps):
    step(batches[(i + 1) % 2])
  return {"first_step_s": first, "step_s": (time.perf_counter() - t0) / steps,
          "peak_rss_gib": _peak_rss_gib(), "threads": torch.get_num_threads()}


def _child(which: str, args) -> dict | None:
  python = args.torch_python if which == "torch" else sys.executable
  cmd = [python, os.path.abspath(__file__), f"--child={which}",
         f"--batch={args.batch}", f"--image-size={args.image_size}",
         f"--steps={args.steps}", f"--mmul-batch={args.mmul_batch}"]
  r = subprocess.run(cmd, capture_output=True, text=True,
                     env=dict(os.environ, PYTHONPATH=ROOT))
  if r.returncode:
    if which == "torch" and "No module named" in r.stderr:
      return None
    why = ("killed by signal 9 (out of memory?)" if r.returncode == -9 else
           r.stderr.strip().splitlines()[-1] if r.stderr.strip() else
           f"exit {r.returncode}")
    return {"error": why}
  return json.loads(r.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--image-size", type=int, default=384)
  parser.add_argument("--steps", type=int, default=1)
  parser.add_argument("--mmul-batch", type=int, default=4,
                      help="Df and Dr batch of the MMUL step")
  parser.add_argument("--torch-python", default=sys.executable,
                      help="an interpreter with torch and transformers "
                      "(default: this one)")
  parser.add_argument("--child", default="")
  args = parser.parse_args()
  if args.child:
    out = (run_torch(args.batch, args.image_size, args.steps)
           if args.child == "torch" else
           run_jax(args.child, args.mmul_batch if args.child == "mmul"
                   else args.batch, args.image_size, args.steps))
    print(json.dumps(out))
    return
  rows = {name: _child(name, args) for name in ("train", "torch", "mmul")}
  print(f"BLIP base ITR, {args.image_size}-pixel images, batch "
        f"{args.batch}, CPU ({os.cpu_count()} cores), {args.steps} timed "
        "step(s) after one warm-up")
  print(f"{'step':34s} {'s/step':>8s} {'first s':>8s} {'peak GiB':>9s}")
  names = {"train": "training step, JAX",
           "torch": "training step, transformers (torch)",
           "mmul": f"MMUL step, JAX (Df {args.mmul_batch} + Dr "
                   f"{args.mmul_batch})"}
  for name, r in rows.items():
    if r is None or "error" in r:
      print(f"{names[name]:34s} " + (r["error"] if r else
                                     "(torch or transformers not installed)"))
      continue
    print(f"{names[name]:34s} {r['step_s']:8.2f} {r['first_step_s']:8.2f} "
          f"{r['peak_rss_gib']:9.2f}")
  j, t = rows["train"], rows["torch"]
  if t and "error" not in t and "error" not in j:
    print(f"JAX / PyTorch: time per step {j['step_s'] / t['step_s']:.2f}x, "
          f"peak RSS {j['peak_rss_gib'] / t['peak_rss_gib']:.2f}x")


if __name__ == "__main__":
  main()
