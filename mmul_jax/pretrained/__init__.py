"""Pretrained weights: CLIP checkpoints (Hugging Face, OpenAI, open_clip) in
safetensors or PyTorch files, imported into the dual encoder without torch."""

from mmul_jax.pretrained.clip_weights import check_model_config
from mmul_jax.pretrained.clip_weights import check_weight
from mmul_jax.pretrained.clip_weights import import_towers
from mmul_jax.pretrained.clip_weights import load_towers
from mmul_jax.pretrained.clip_weights import model_config
from mmul_jax.pretrained.clip_weights import read_state_dict
from mmul_jax.pretrained.torch_files import load as load_torch_file

__all__ = ["check_model_config", "check_weight", "import_towers", "load_torch_file",
           "load_towers", "model_config", "read_state_dict"]
