"""Reads PyTorch `torch.save` files into numpy without torch and without
running arbitrary pickled code.

A `.bin`/`.pt`/`.pth` file written by `torch.save` (PyTorch >= 1.6) is a zip
archive: `<root>/data.pkl` pickles the object tree and refers to each tensor
storage by key, whose raw bytes are `<root>/data/<key>`. The unpickler here
resolves only what a state dict is made of (tensor and parameter rebuild
functions, storage types, ordered dicts) and refuses every other global, so a
malicious or unusual file stops with an error instead of executing code.
TorchScript archives (OpenAI's original `ViT-B-32.pt`) pickle model classes
and are refused with a note on how to convert them.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import ml_dtypes
import numpy as np

from mmul_jax import errors

# Storage class name -> numpy dtype (torch.FloatStorage, ...).
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32,
    "HalfStorage": np.float16, "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
  def __init__(self, name: str):
    self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _int_tuple(value, what: str) -> tuple[int, ...]:
  if not isinstance(value, (tuple, list)) or not all(
      isinstance(v, int) and not isinstance(v, bool) and v >= 0
      for v in value):
    raise ValueError(
        f"a tensor's {what} must be non-negative integers, got {value!r}")
  return tuple(value)


def _rebuild_tensor(storage, offset, size, stride, *unused):
  """A copy of the tensor viewing `storage`, after checking that every
  element it addresses lies inside the storage: a file's size, stride and
  offset are untrusted, and numpy's strided view would read (or crash on)
  whatever memory lies beyond."""
  del unused  # requires_grad, backward hooks, metadata
  # ValueErrors here become "<file> is corrupt: ..." in `load`.
  if not isinstance(storage, np.ndarray):
    raise ValueError(f"a tensor's storage must be a storage record, got "
                     f"{type(storage).__name__}")
  size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
  (offset,) = _int_tuple((offset,), "offset")
  if len(size) != len(stride):
    raise ValueError(
        f"a tensor has size {size} but stride {stride} (lengths differ)")
  if any(n == 0 for n in size):
    return np.zeros(size, storage.dtype)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= storage.size:
    raise ValueError(
        f"a tensor of size {size}, stride {stride} and offset {offset} "
        f"addresses element {last} of a storage of {storage.size}")
  if not size:
    return np.array(storage[offset])
  itemsize = storage.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(
      storage[offset:], shape=size,
      strides=tuple(s * itemsize for s in stride), writeable=False)
  return np.array(view)  # own the memory, contiguous


def _rebuild_parameter(data, *unused):
  del unused
  return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):

  def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str,
               path: str):
    super().__init__(io.BytesIO(data))
    self._archive, self._root, self._path = archive, root, path
    self._storages: dict[str, np.ndarray] = {}

  def find_class(self, module: str, name: str):
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(name)
    if module.startswith("__torch__"):
      raise errors.CheckpointError(
          f"{self._path} is a TorchScript archive, not a state dict; load it "
          "with torch.jit.load and save model.state_dict() with "
          "safetensors.torch.save_file")
    raise errors.CheckpointError(
        f"{self._path} pickles {module}.{name}, which is not part of a "
        "state dict; only tensors in (ordered) dicts are read. Save "
        "model.state_dict() alone, or convert the file to safetensors")

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) == 5):
      raise errors.CheckpointError(
          f"{self._path}: unsupported storage record {str(pid)[:80]}")
    kind, storage_type, key, _location, numel = pid
    if (kind != "storage" or not isinstance(storage_type, _StorageType)
        or not isinstance(key, str) or not isinstance(numel, int)
        or isinstance(numel, bool) or numel < 0):
      raise errors.CheckpointError(
          f"{self._path}: unsupported storage record {str(pid)[:80]}")
    if key not in self._storages:
      raw = self._archive.read(f"{self._root}/data/{key}")
      arr = np.frombuffer(raw, storage_type.dtype)
      if arr.size < numel:
        raise errors.CheckpointError(
            f"{self._path}: storage {key} is truncated ({arr.size} of "
            f"{numel} elements)")
      self._storages[key] = arr
    return self._storages[key]


def load(path: str) -> dict:
  """The object tree of a `torch.save` zip file, tensors as numpy arrays."""
  try:
    archive = zipfile.ZipFile(path)
  except zipfile.BadZipFile:
    raise errors.CheckpointError(
        f"{path} is not a zip-format torch.save file (saved by PyTorch < "
        "1.6, or corrupt); re-save it with a recent PyTorch or as "
        "safetensors") from None
  with archive:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
      raise errors.CheckpointError(
          f"{path}: expected one data.pkl in the archive, found "
          f"{len(pickles)}")
    root = pickles[0][:-len("/data.pkl")]
    names = set(archive.namelist())
    if f"{root}/byteorder" in names and archive.read(
        f"{root}/byteorder").strip() != b"little":
      raise errors.CheckpointError(f"{path}: big-endian tensors are not "
                                   "supported")
    try:
      return _Unpickler(archive.read(pickles[0]), archive, root,
                        path).load()
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError,
            TypeError, IndexError, zipfile.BadZipFile) as e:
      raise errors.CheckpointError(f"{path} is corrupt: {e}") from None
