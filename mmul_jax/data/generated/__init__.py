"""The embedded datasets: seeded generators and their TFDS builders, each
builder module declaring its datasets' `DatasetSpec`s."""
