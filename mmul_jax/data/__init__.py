"""Input: datasets (embedded and real), tokenizers, deletion sets, grain."""

from mmul_jax.data import classification_tfds
from mmul_jax.data import datasets
from mmul_jax.data import deletion
from mmul_jax.data import karpathy_tfds
from mmul_jax.data import manual_tfds
from mmul_jax.data import pipeline
from mmul_jax.data import shapes
from mmul_jax.data import shapes_tfds
from mmul_jax.data import tokenizer

__all__ = ["classification_tfds", "datasets", "deletion", "karpathy_tfds",
           "manual_tfds", "pipeline", "shapes", "shapes_tfds", "tokenizer"]
