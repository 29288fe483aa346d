"""Writes `torch.save`-format zip files without torch, with any size,
stride and offset, so tests can build the malformed files torch refuses to
write."""

import collections
import pickle
import zipfile

import numpy as np

_STORAGES = {np.dtype(np.float32): "FloatStorage",
             np.dtype(np.float16): "HalfStorage",
             np.dtype(np.int32): "IntStorage",
             np.dtype(np.int64): "LongStorage",
             np.dtype(np.bool_): "BoolStorage"}


class Global:
  """Pickled as the global `module.name`, which need not exist here."""

  def __init__(self, module: str, name: str):
    self.module, self.name = module, name

  def __call__(self, *args):  # save_reduce checks callability only
    raise TypeError("a stand-in")


class Tensor:
  """A tensor record: `storage` (a key into the archive's data/), offset,
  size and stride, as torch's `_rebuild_tensor_v2` receives them."""

  def __init__(self, key, storage, offset, size, stride):
    self.key, self.storage = key, storage
    self.offset, self.size, self.stride = offset, size, stride

  def __reduce__(self):
    return (Global("torch._utils", "_rebuild_tensor_v2"),
            (_StorageRef(self.key, self.storage), self.offset,
             tuple(self.size), tuple(self.stride), False,
             collections.OrderedDict()))


class _StorageRef:
  def __init__(self, key, storage):
    self.key, self.storage = key, storage


class _Pickler(pickle._Pickler):  # the Python pickler has a dispatch table
  dispatch = dict(pickle._Pickler.dispatch)

  def _save_global(self, obj):
    self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

  dispatch[Global] = _save_global

  def persistent_id(self, obj):
    if isinstance(obj, _StorageRef):
      return ("storage", Global("torch", _STORAGES[obj.storage.dtype]),
              obj.key, "cpu", int(obj.storage.size))
    return None


def write(path, tensors: dict, storages: dict[str, np.ndarray] | None = None):
  """`tensors`: name -> numpy array (contiguous, own storage) or `Tensor`.
  `storages` are the raw arrays the `Tensor`s' keys name."""
  storages = dict(storages or {})
  records = {}
  for i, (name, t) in enumerate(tensors.items()):
    if isinstance(t, np.ndarray):
      key = f"s{i}"
      storages[key] = np.ascontiguousarray(t).ravel()
      stride = [int(np.prod(t.shape[j + 1:])) for j in range(t.ndim)]
      t = Tensor(key, storages[key], 0, t.shape, stride)
    records[name] = t
  import io
  buf = io.BytesIO()
  _Pickler(buf, protocol=2).dump(collections.OrderedDict(records))
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("archive/data.pkl", buf.getvalue())
    z.writestr("archive/byteorder", "little")
    for key, arr in storages.items():
      z.writestr(f"archive/data/{key}", arr.tobytes())
