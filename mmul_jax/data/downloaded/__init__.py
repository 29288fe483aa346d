"""Builders over files a user downloads by hand (`data.manual_dir`), each
module declaring its datasets' `DatasetSpec`s."""
