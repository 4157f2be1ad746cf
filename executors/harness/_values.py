"""Values on the wire: JSON for plain data, raw bytes for arrays; numpy and torch only when present.

An answer may return torch tensors or numpy arrays (any device, any float dtype): they travel as
float32/float64/int64 bytes with their original dtype named, so the checker compares numbers, not types.
"""

from __future__ import annotations

import ast
import sys
from typing import Any, Literal

ArrayMode = Literal["torch", "numpy"]
_MAX_DEPTH = 32
_SCALARS = {int, float, bool, str, type(None)}
_WIRE_DTYPES = {"float16", "float32", "float64", "int64", "int32", "bool", "uint8"}


def encode(value: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """Turn a returned value into JSON data plus blobs; other types raise TypeError naming them."""
    if depth > _MAX_DEPTH:
        raise TypeError("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _SCALARS:  # fast path: a list of plain numbers is already JSON
            return list(value)
        return [encode(v, blobs, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"$map": [[str(k), encode(v, blobs, depth + 1)] for k, v in value.items()]}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        original = str(value.dtype).removeprefix("torch.")
        tensor = value.detach().cpu()
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        array = tensor.contiguous().numpy()
        return _array(array, blobs, original)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.generic):
            return value.item()
        if isinstance(value, numpy.ndarray):
            return _array(value, blobs, str(value.dtype))
    raise TypeError(f"cannot return a value of type {type(value).__module__}.{type(value).__qualname__}")


def _array(array: Any, blobs: list[bytes], original: str) -> dict[str, Any]:
    import numpy

    if array.dtype.name not in _WIRE_DTYPES:
        array = array.astype(numpy.float64 if array.dtype.kind in "fc" else numpy.int64)
    blobs.append(numpy.ascontiguousarray(array).tobytes())
    return {"$nd": len(blobs) - 1, "dtype": array.dtype.name, "shape": list(array.shape), "was": original}


def decode(value: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """Inverse of `encode`, arrays as numpy; a malformed array marker raises ValueError."""
    if depth > _MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if isinstance(value, list):
        if set(map(type, value)) <= _SCALARS:
            return value
        return [decode(v, blobs, depth + 1) for v in value]
    if isinstance(value, dict):
        if "$nd" in value:
            return _decode_array(value, blobs)
        if "$map" in value:
            return {k: decode(v, blobs, depth + 1) for k, v in value["$map"]}
        raise ValueError("unknown value marker")
    return value


def _decode_array(marker: dict[str, Any], blobs: list[bytes]) -> Any:
    import numpy

    index, dtype, shape = marker.get("$nd"), marker.get("dtype"), marker.get("shape")
    if not isinstance(index, int) or not 0 <= index < len(blobs) or dtype not in _WIRE_DTYPES:
        raise ValueError("malformed array marker")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError("malformed array shape")
    data = numpy.frombuffer(blobs[index], dtype=dtype)
    if data.size != int(numpy.prod(shape, dtype=numpy.int64)):
        raise ValueError("array data does not match its shape")
    return data.reshape(shape)


def array_mode(code: str) -> ArrayMode:
    """Numpy when the answer imports numpy and not torch, else torch: what it imports, not what it says.

    A comment or a string that mentions numpy changes nothing; code that does not parse is loaded as torch
    (it fails to load either way).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return "torch"
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    return "numpy" if "numpy" in imported and "torch" not in imported else "torch"


def to_mode(value: Any, mode: ArrayMode, dtype: str, device: str) -> Any:
    """Hand a float32 input array to an answer as it expects it: torch (any device) or numpy, in `dtype`."""
    if mode == "numpy":
        import numpy

        return numpy.array(value, dtype=numpy.float16 if dtype == "float16" else numpy.float32)
    import torch

    return torch.from_numpy(value.copy()).to(device=device, dtype=getattr(torch, dtype))
