"""MU-Bench across tasks and modalities: the general methods on the
embedded NLVR2-style (image+image+text), image, sentiment, relation,
keyword-spotting and action-recognition tasks, 2/5/10% deleted, 3 seeds;
one leaderboard with a table per task and modality and each method's
average rank across tasks.

  python scripts/benchmark.py --config=configs/bench_mubench.py

Every task starts from its recipe (`recipes.mubench_task`: its training
steps, wrong-label targets); the unlearning budget is the same everywhere
(100 steps at 3e-4, Df batch 32, Dr batch 64). MMUL runs on the multimodal
task only (the others refuse it). --config.data.source=real names the real
datasets instead (NLVR2, CIFAR-100, IMDB, DDI-2013, Speech Commands,
UCF101), each with its own recipe and budget. A quick profile:
--config.benchmark.ratios="(5.0,)" --config.benchmark.seeds="(0,)".

`--config=configs/bench_mubench.py:scalability=true` is MU-Bench's
scalability grid instead: model size x method x ratio on the real
datasets and its pretrained backbones (`"<dataset>@<backbone>"` entries:
CIFAR-100 on ResNet-18/34/50, IMDB on BERT base and large, Speech
Commands on HuBERT base and large), the general methods (MMUL needs two
modalities). Each backbone is a Hugging Face download under
~/checkpoints; a missing one stops the grid first with its command.
"""

from mmul_jax import config_schema

SCALABILITY = ("cifar100@resnet-18", "cifar100@resnet-34",
               "cifar100@resnet-50", "imdb@bert-base-uncased",
               "imdb@bert-large-uncased",
               "speech_commands@hubert-base-ls960",
               "speech_commands@hubert-large-ll60k")


def get_config(arg=None):
  options = config_schema.config_arg(arg, scalability="false")
  c = config_schema.default_config()
  c.unlearn.num_steps = 100
  c.unlearn.learning_rate = 3e-4
  c.deletion.ratio = 5.0
  c.benchmark.datasets = ("shapes_nlvr2", "shapes_cifar", "reviews",
                          "drug_relations", "tone_commands", "moving_shapes")
  c.benchmark.methods = ("mmul", "finetune", "neggrad", "neggrad_plus",
                         "randlabel", "salun", "bad_teaching", "scrub", "npo",
                         "l1_sparse", "delete", "dtd", "fisher")
  c.benchmark.ratios = (2.0, 5.0, 10.0)
  c.benchmark.seeds = (0, 1, 2)
  if options.scalability == "true":
    c.benchmark.datasets = SCALABILITY
    c.benchmark.methods = tuple(m for m in c.benchmark.methods
                                if m != "mmul")
  return c
