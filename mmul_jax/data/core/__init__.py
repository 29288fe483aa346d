"""The record layout and grain pipeline, input types (`Modality`),
tokenizers, deletion sets and `DatasetSpec`: what every dataset uses."""
