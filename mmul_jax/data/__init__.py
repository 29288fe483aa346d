"""Input: the embedded shapes dataset, its tokenizer, deletion sets, grain."""

from mmul_jax.data import deletion
from mmul_jax.data import pipeline
from mmul_jax.data import shapes
from mmul_jax.data import shapes_tfds
from mmul_jax.data import tokenizer

__all__ = ["deletion", "pipeline", "shapes", "shapes_tfds", "tokenizer"]
