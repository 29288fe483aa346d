"""Does the forgetting last (issue 46): attacks on an unlearned model and
how much they bring back relative to the retrained model."""
