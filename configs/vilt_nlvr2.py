"""MMUL on NLVR2 (two images + a sentence -> true / false) with ViLT-B/32,
MU-Bench's NLVR2 model.

  python scripts/unlearn.py --config=configs/vilt_nlvr2.py \\
      --config.data.manual_dir=/path/to/nlvr2 \\
      --config.model.original=/path/to/vilt-b32-finetuned-nlvr2 \\
      --config.model.pretrained=/path/to/vilt-b32-mlm

Needs NLVR2's train/dev/test1 JSON files and images (the builder's
instructions are printed when they are missing) and two Hugging Face
downloads (config.json, the weights, tokenizer.json,
tokenizer_config.json; without them the run stops with the download
command):

* dandelin/vilt-b32-finetuned-nlvr2 (default
  ~/checkpoints/vilt-b32-finetuned-nlvr2): the original, as MU-Bench uses
  it, not trained here;
* dandelin/vilt-b32-mlm (default ~/checkpoints/vilt-b32-mlm): the
  pretrained ViLT the retrained reference fine-tunes on Dr from, as
  MultiDelete retrains (the classifier starts random, the second image's
  modality type as the first's).

The recipe is `mmul_jax.recipes.vilt_classification`: MU-Bench's NLVR2
unlearning settings (lr 1e-5, 6 epochs, batch 32: Df 16, Dr 64) with 10%
of the training pairs deleted (MU-Bench's largest ratio; set
deletion.ratio for 2-8%); ViLT's own NLVR2 fine-tuning for the retrained
reference (10 epochs, batch 128, lr 1e-4, 10% warm-up, weight decay 0.01;
ViLT's 10x learning rate on its head is not reproduced). Images are
384 x 384 (ViLT reads a 384 shorter side up to 640 wide, unpadded here).
"""

from mmul_jax import config_schema
from mmul_jax import recipes

NLVR2_TRAIN_SENTENCES = 86_373


def get_config():
  c = config_schema.default_config()
  recipes.vilt_classification(
      c, dataset="nlvr2", original="vilt-b32-finetuned-nlvr2",
      pretrained="vilt-b32-mlm", train_rows=NLVR2_TRAIN_SENTENCES,
      deletion_ratio=10.0, epochs=6, batch_size=32, learning_rate=1e-5)
  return c
