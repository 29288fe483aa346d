"""Model sizes. `vit_b32` / `vit_b16` match OpenAI CLIP (shapes, activation,
LayerNorm epsilon), so its checkpoints import into them (`model.pretrained`).

The fusion encoder is not part of CLIP; its size in the large presets follows
ALBEF (6 layers of width 768).
"""

from __future__ import annotations

import copy

_CLIP_TEXT = dict(vocab_size=49408, context_length=77, text_width=512,
                  text_layers=12, text_heads=8, eot_id=49407)

PRESETS: dict[str, dict] = {
    # Sized so that the demo trains in about a minute on 2 CPU cores.
    "tiny": dict(
        embed_dim=64, image_size=32, patch_size=8, vision_width=64,
        vision_layers=2, vision_heads=4, vocab_size=256, context_length=32,
        text_width=64, text_layers=2, text_heads=4, eot_id=2,
        fusion_width=64, fusion_layers=1, fusion_heads=4,
        activation="gelu", layer_norm_eps=1e-6),
    "vit_b32": dict(
        embed_dim=512, image_size=224, patch_size=32, vision_width=768,
        vision_layers=12, vision_heads=12, **_CLIP_TEXT,
        fusion_width=768, fusion_layers=6, fusion_heads=12,
        activation="quick_gelu", layer_norm_eps=1e-5),
    "vit_b16": dict(
        embed_dim=512, image_size=224, patch_size=16, vision_width=768,
        vision_layers=12, vision_heads=12, **_CLIP_TEXT,
        fusion_width=768, fusion_layers=6, fusion_heads=12,
        activation="quick_gelu", layer_norm_eps=1e-5),
}


def preset(name: str) -> dict:
  """A copy of the named size preset."""
  if name not in PRESETS:
    raise ValueError(f"unknown model preset {name!r}; "
                     f"choose one of {sorted(PRESETS)}")
  return copy.deepcopy(PRESETS[name])
