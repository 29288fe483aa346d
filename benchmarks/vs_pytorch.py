"""The MMUL unlearning step in JAX against the same step written the way the
PyTorch reference implementations run it (eager) and under torch.compile,
in one run.

  python benchmarks/vs_pytorch.py [--steps=30] [--width=64] [--layers=2]

Same model sizes (the demo's dual encoder with its fusion encoder), the same
batch (Df 32 + Dr 64 pairs), the same loss (MD + 30 UKR + 30 MKR with a
frozen copy of the model) and AdamW with gradient clipping. Both use every
CPU core. The PyTorch model is written here for the comparison only; it
matches the Flax model's architecture and sizes, not its weights. The
PyTorch step runs twice, eager and under `torch.compile` (Inductor; needs
a C++ compiler), each from a fresh model. Targets: JAX at least 1.5x the
examples per second of eager PyTorch and at least 1.0x torch.compile's,
on CPU. Needs `pip install torch==2.13.0`.
"""

import argparse
import copy
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def torch_model(m):
  """A PyTorch twin of `mmul_jax.models.DualEncoder` for config `m`."""
  import torch
  from torch import nn

  def mlp(width):
    return nn.Sequential(nn.Linear(width, int(width * m.mlp_ratio)),
                         nn.GELU(), nn.Linear(int(width * m.mlp_ratio),
                                              width))

  class Block(nn.Module):
    def __init__(self, width, heads, cross=False):
      super().__init__()
      self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
      self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
      self.mlp = mlp(width)
      if cross:
        self.ln_cross = nn.LayerNorm(width)
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x, attn_mask=None, pad=None, ctx=None):
      y = self.ln_1(x)
      x = x + self.attn(y, y, y, attn_mask=attn_mask, key_padding_mask=pad,
                        need_weights=False)[0]
      if ctx is not None:
        y = self.ln_cross(x)
        x = x + self.cross(y, ctx, ctx, need_weights=False)[0]
      return x + self.mlp(self.ln_2(x))

  class DualEncoder(nn.Module):
    def __init__(self):
      super().__init__()
      w, p = m.vision_width, m.patch_size
      self.conv = nn.Conv2d(3, w, p, stride=p, bias=False)
      n = (m.image_size // p) ** 2 + 1
      self.cls = nn.Parameter(torch.randn(w) * w ** -0.5)
      self.vpos = nn.Parameter(torch.randn(n, w) * w ** -0.5)
      self.ln_pre, self.ln_post = nn.LayerNorm(w), nn.LayerNorm(w)
      self.vblocks = nn.ModuleList(Block(w, m.vision_heads)
                                   for _ in range(m.vision_layers))
      self.vproj = nn.Linear(w, m.embed_dim, bias=False)
      t = m.text_width
      self.tok = nn.Embedding(m.vocab_size, t)
      self.tpos = nn.Parameter(torch.randn(m.context_length, t) * 0.01)
      self.tblocks = nn.ModuleList(Block(t, m.text_heads)
                                   for _ in range(m.text_layers))
      self.ln_final = nn.LayerNorm(t)
      self.tproj = nn.Linear(t, m.embed_dim, bias=False)
      f = m.fusion_width
      self.text_in, self.context_in = nn.Linear(t, f), nn.Linear(w, f)
      self.fcls = nn.Parameter(torch.randn(f) * 0.02)
      self.fblocks = nn.ModuleList(Block(f, m.fusion_heads, cross=True)
                                   for _ in range(m.fusion_layers))
      self.fln = nn.LayerNorm(f)
      self.itm = nn.Linear(f, 2)
      self.logit_scale = nn.Parameter(torch.tensor(m.logit_scale_init))

    def encode_image(self, images):  # (B, H, W, 3) like the JAX input
      x = self.conv(images.permute(0, 3, 1, 2)).flatten(2).transpose(1, 2)
      cls = self.cls.expand(x.shape[0], 1, -1)
      x = self.ln_pre(torch.cat([cls, x], 1) + self.vpos)
      for b in self.vblocks:
        x = b(x)
      x = self.ln_post(x)
      return nn.functional.normalize(self.vproj(x[:, 0]), dim=-1), x

    def encode_text(self, text):
      length = text.shape[1]
      x = self.tok(text) + self.tpos[:length]
      causal = torch.triu(torch.ones(length, length, dtype=torch.bool), 1)
      for b in self.tblocks:
        x = b(x, attn_mask=causal)
      x = self.ln_final(x)
      eot = (text == m.eot_id).int().argmax(1)
      pooled = x[torch.arange(x.shape[0]), eot]
      mask = torch.arange(length)[None] <= eot[:, None]
      return nn.functional.normalize(self.tproj(pooled), dim=-1), x, mask

    def fuse(self, img_tokens, txt_tokens, txt_mask):
      x = self.text_in(txt_tokens)
      ctx = self.context_in(img_tokens)
      x = torch.cat([self.fcls.expand(x.shape[0], 1, -1), x], 1)
      valid = torch.cat([torch.ones_like(txt_mask[:, :1]), txt_mask], 1)
      for b in self.fblocks:
        x = b(x, pad=~valid, ctx=ctx)
      return self.fln(x)[:, 0]

  return DualEncoder()


def torch_rate(c, batches, steps: int, compiled: bool = False):
  """(seconds to the end of the first step, steady steps per second) of
  the PyTorch MMUL step, eager or under `torch.compile` (the loss's
  forward, with its backward through AOTAutograd, and AdamW's update, each
  compiled by Inductor: the usual way to compile a training step)."""
  import torch
  torch.manual_seed(0)
  model = torch_model(c.model)
  frozen = copy.deepcopy(model).eval().requires_grad_(False)
  model.train()
  h = c.method.mmul
  decay = [p for p in model.parameters() if p.ndim >= 2]
  rest = [p for p in model.parameters() if p.ndim < 2]
  opt = torch.optim.AdamW(
      [{"params": decay, "weight_decay": c.unlearn.weight_decay},
       {"params": rest, "weight_decay": 0.0}], lr=c.unlearn.learning_rate)
  tb = [{k: {n: torch.from_numpy(np.asarray(v)) for n, v in part.items()
             if n != "image_id"}
         for k, part in b.items()} for b in batches]

  def loss_fn(df_image, df_text, dr_image, dr_text):
    img, _ = model.encode_image(df_image)
    txt, _, _ = model.encode_text(df_text)
    with torch.no_grad():
      img0, _ = frozen.encode_image(df_image)
      txt0, _, _ = frozen.encode_text(df_text)
      neg0 = txt0.roll(1, 0)  # ids are unique: a derangement
    sq = (img @ txt.T - img0 @ neg0.T) ** 2
    md = (sq.mean(1) + sq.mean(0)).mean()
    ukr = ((img - img0) ** 2).mean() + ((txt - txt0) ** 2).mean()
    _, itok = model.encode_image(dr_image)
    _, ttok, tmask = model.encode_text(dr_text)
    fused = model.fuse(itok, ttok, tmask)
    with torch.no_grad():
      _, itok0 = frozen.encode_image(dr_image)
      _, ttok0, tmask0 = frozen.encode_text(dr_text)
      fused0 = frozen.fuse(itok0, ttok0, tmask0)
    mkr = ((fused - fused0) ** 2).mean()
    return h.md_weight * md + h.ukr_weight * ukr + h.mkr_weight * mkr

  def update():
    torch.nn.utils.clip_grad_norm_(model.parameters(),
                                   c.unlearn.grad_clip_norm)
    opt.step()

  if compiled:
    loss_fn = torch.compile(loss_fn)
    update = torch.compile(update)

  def step(b):
    loss = loss_fn(b["df"]["image"], b["df"]["text"], b["dr"]["image"],
                   b["dr"]["text"])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    update()
    return float(loss.detach())

  t0 = time.perf_counter()
  step(tb[0])
  first_s = time.perf_counter() - t0
  for b in tb[1:3]:
    step(b)
  t0 = time.perf_counter()
  for i in range(steps):
    step(tb[i % len(tb)])
  return first_s, steps / (time.perf_counter() - t0)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=30)
  parser.add_argument("--width", type=int, default=0,
                      help="every tower's width (default: the demo's)")
  parser.add_argument("--layers", type=int, default=0,
                      help="image and text layers (default: the demo's)")
  args = parser.parse_args()
  try:  # before the JAX half: it is the comparison's other side
    import torch  # noqa: F401
  except ImportError:
    print("error: benchmarks/vs_pytorch.py compares against PyTorch, which "
          "is not installed; pip install torch==2.13.0 (the CPU build) and "
          "run it again", file=sys.stderr)
    sys.exit(2)
  from mmul_jax.training import sharding
  c = _common.demo_config(args.width, args.layers)
  batches = _common.unlearning_batches(c, 4)
  mesh = sharding.make_mesh(1)
  step, state, frozen = _common.mmul_step(c, mesh)
  compile_s, jax_rate = _common.time_steps(step, state, frozen, batches,
                                           mesh, args.steps)
  _, eager_rate = torch_rate(c, batches, args.steps)
  compile_pt, compiled_rate = torch_rate(c, batches, args.steps,
                                         compiled=True)
  per_step = c.unlearn.df_batch_size + c.unlearn.dr_batch_size
  m = c.model
  print(f"model: widths {m.vision_width}, {m.vision_layers}+{m.text_layers}+"
        f"{m.fusion_layers} layers; batch Df {c.unlearn.df_batch_size} + "
        f"Dr {c.unlearn.dr_batch_size}; torch threads "
        f"{_torch_threads()}")
  print(f"JAX (jit, 1 CPU device):  {jax_rate * per_step:.0f} examples/s "
        f"({jax_rate:.2f} steps/s; first step {compile_s:.1f} s)")
  print(f"PyTorch eager:            {eager_rate * per_step:.0f} examples/s "
        f"({eager_rate:.2f} steps/s)")
  print(f"PyTorch torch.compile:    {compiled_rate * per_step:.0f} "
        f"examples/s ({compiled_rate:.2f} steps/s; first step "
        f"{compile_pt:.1f} s)")
  print(f"ratio JAX / eager:         {jax_rate / eager_rate:.2f} "
        "(target >= 1.5)")
  print(f"ratio JAX / torch.compile: {jax_rate / compiled_rate:.2f} "
        "(target >= 1.0)")


def _torch_threads() -> int:
  import torch
  return torch.get_num_threads()


if __name__ == "__main__":
  main()
