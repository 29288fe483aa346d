"""Input: the dataset registry (`datasets`), and by kind: core/ (the
record layout and grain pipeline, modalities, tokenizers, deletion sets),
generated/ (the embedded generators and their builders), downloaded/
(builders over hand-downloaded files), graphs/ (molecules as graphs)."""

from mmul_jax.data import datasets
from mmul_jax.data.core import deletion
from mmul_jax.data.core import pipeline
from mmul_jax.data.core import tokenizer

__all__ = ["datasets", "deletion", "pipeline", "tokenizer"]
