"""Your own data (`data.name = "files"`): manifests read as tables
(`tables`), rows checked and grouped into deletion units (`units`), and
built as a TFDS dataset like every other (`files_tfds`)."""

from mmul_jax.data.files.files_tfds import NAME
from mmul_jax.data.files.files_tfds import dataset_spec

__all__ = ["NAME", "dataset_spec"]
