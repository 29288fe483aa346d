"""Task kinds by name; a dataset names its kind (`DatasetSpec.task`).

  retrieval         tasks/retrieval.py       image-text retrieval
  classification    tasks/classification.py  classification over the fusion
  graph_text        tasks/graph_text.py      molecule-text retrieval
  unimodal_classification
                    tasks/unimodal.py        image / text classification
  generation        tasks/generation.py      text generation (question
                                             answering, summarisation)
  image_generation  tasks/image_generation.py  image-conditioned generation
  text_to_image     tasks/text_to_image.py   text-to-image diffusion

Adding a task kind: a file with a `Task` subclass (`tasks/base.py` lists
what it implements) and one `register` line here (a test may register its
own). Setup builds the run's task once (`for_dataset`); nothing after it
decides the kind again.
"""

from __future__ import annotations

from mmul_jax import errors
from mmul_jax.data import datasets
from mmul_jax.tasks.base import Metric
from mmul_jax.tasks.base import MmulTerms
from mmul_jax.tasks.base import Task
from mmul_jax.tasks.classification import Classification
from mmul_jax.tasks.generation import Generation
from mmul_jax.tasks.graph_text import GraphTextRetrieval
from mmul_jax.tasks.image_generation import ImageGeneration
from mmul_jax.tasks.retrieval import Retrieval
from mmul_jax.tasks.text_to_image import TextToImage
from mmul_jax.tasks.unimodal import UnimodalClassification

TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
  """Adds a `Task` subclass under its `name` (usable as a decorator).

  Args:
    cls: the `Task` subclass; its class attribute `name` is the key in
      `TASKS` (a dataset's `DatasetSpec.task`).

  Returns:
    `cls`, unchanged.

  Raises:
    ValueError: `cls` has no `name`.
  """
  if not cls.name:
    raise ValueError(f"{cls.__name__} needs a name")
  TASKS[cls.name] = cls
  return cls


for _cls in (Retrieval, Classification, GraphTextRetrieval,
             UnimodalClassification, Generation, ImageGeneration,
             TextToImage):
  register(_cls)


def get(name: str) -> type[Task]:
  """The registered task kind `name`.

  Args:
    name: a key of `TASKS` ("retrieval", "classification", ...).

  Returns:
    The `Task` subclass (not an instance: it is built on a dataset spec).

  Raises:
    ConfigError: no task of that name is registered.
  """
  if name not in TASKS:
    raise errors.ConfigError(f"unknown task {name!r}; available: "
                             f"{', '.join(sorted(TASKS))}")
  return TASKS[name]


def for_dataset(spec) -> Task:
  """The task of a dataset (`datasets.DatasetSpec`), built on its spec.

  Args:
    spec: the dataset's `datasets.DatasetSpec`; its `task` names the kind.

  Returns:
    The `Task` instance for that dataset.
  """
  return get(spec.task)(spec)


def for_results(results) -> Task:
  """The task of a results record (`evaluation.results.Results`), which
  names it.

  Args:
    results: a results record; its `task` names the kind and its config's
      `data.name` the dataset the task is built on.

  Returns:
    The `Task` instance of the run that wrote the record.
  """
  return get(results.task)(datasets.spec_of(results.config["data"]))


__all__ = ["Classification", "Generation", "GraphTextRetrieval",
           "ImageGeneration", "Metric", "MmulTerms",
           "Retrieval", "TASKS", "Task", "UnimodalClassification",
           "for_dataset", "for_results", "get", "register"]
