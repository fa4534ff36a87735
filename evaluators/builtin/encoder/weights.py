"""The BERT weights as numpy arrays, read from safetensors bytes without any ML framework.

safetensors is an 8-byte little-endian header length, a JSON header (name -> dtype, shape,
byte offsets) and the raw little-endian tensors: simple enough to read with numpy alone,
which keeps torch and the ``safetensors`` package out of the build.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from evaluators.builtin.encoder.exceptions import EncoderProvenanceError

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}

LAYERS = 6
HIDDEN = 384
HEADS = 12
LAYER_NORM_EPS = 1e-12


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise EncoderProvenanceError(f"unexpected tensor dtype {info['dtype']} for {name}")
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize,
                              offset=base + start)  # fmt: skip
        tensors[name] = array.reshape(info["shape"])
    return tensors
