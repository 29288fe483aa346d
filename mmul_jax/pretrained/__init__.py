"""Pretrained weights: CLIP checkpoints (Hugging Face, OpenAI, open_clip)
into the dual encoder, BLIP retrieval checkpoints into `models.blip` and
ViLT checkpoints into `models.vilt`, from safetensors or PyTorch files,
without torch."""

from mmul_jax.pretrained.clip_weights import check_weight
from mmul_jax.pretrained.clip_weights import import_towers
from mmul_jax.pretrained.clip_weights import model_config
from mmul_jax.pretrained.loading import check_model_config
from mmul_jax.pretrained.loading import check_original
from mmul_jax.pretrained.loading import load_towers
from mmul_jax.pretrained.clip_weights import read_state_dict
from mmul_jax.pretrained.torch_files import load as load_torch_file

__all__ = ["check_model_config", "check_original", "check_weight",
           "import_towers", "load_torch_file", "load_towers", "model_config",
           "read_state_dict"]
