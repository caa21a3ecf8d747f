"""Self-supervised speech encoders (WavLM, HuBERT, wav2vec 2.0) from local checkpoints, via transformers.

transformers rather than s3prl: s3prl's pip install drags in a torchaudio whose CUDA-only shared
library cannot load on a CPU machine (and transformers' own WavLM then fails too), while
transformers' WavLM/HuBERT need only torch. The hidden-state numbering is s3prl's: 0 is the input
of the first transformer layer, N the output of layer N.

Nothing is downloaded: a path must be a Hugging Face model directory (config.json plus weights);
an s3prl upstream name is looked up in the local Hugging Face cache only.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import ModelError
from bridge.frames import F32

log = logging.getLogger(__name__)

# s3prl upstream names -> the Hugging Face repositories holding the same weights.
S3PRL_NAMES = {
    "wavlm_base": "microsoft/wavlm-base",
    "wavlm_base_plus": "microsoft/wavlm-base-plus",
    "wavlm_large": "microsoft/wavlm-large",
    "hubert_base": "facebook/hubert-base-ls960",
    "hubert_large_ll60k": "facebook/hubert-large-ll60k",
    "wav2vec2": "facebook/wav2vec2-base",
    "wav2vec2_large_ll60k": "facebook/wav2vec2-large-lv60",
}
_MODEL_TYPES = ("wavlm", "hubert", "wav2vec2")
SAMPLE_RATE_HZ = 16000


def _import_transformers() -> tuple[Any, Any]:
    # Read when huggingface_hub is imported: the bridge never reaches the network, and weight-loading
    # progress bars would garble the status line.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ModelError(f"--upstream needs the [ssl] extra (pip install 'avatar-bridge[ssl]'): {e}") from e
    logging.getLogger("transformers").setLevel(logging.ERROR)
    # Half the cores: torch's OpenMP threads spin, and competing with the capture thread or the
    # avatar app for every core made a chunk 50x slower here (2 cores, one busy).
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    return torch, transformers


class SSLEncoder:
    """A local SSL checkpoint that turns 16 kHz audio into the hidden states of one layer.

    Attributes:
        name: the upstream as given.
        n_hidden_states: number of hidden states (layers + 1).
        hidden_size: width D of every hidden state.
        stride_samples: samples between output frames (320 for all these models).
        receptive_samples: samples one output frame's convolutional front end sees (400).
    """

    def __init__(self, upstream: str) -> None:
        self._torch, transformers = _import_transformers()
        self.name = upstream
        source = self._resolve(upstream)
        try:
            config = transformers.AutoConfig.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError) as e:
            raise self._not_found(upstream, source, e) from e
        if config.model_type not in _MODEL_TYPES:
            raise ModelError(
                f"upstream {upstream}: model type {config.model_type!r} is not a speech encoder "
                f"({', '.join(_MODEL_TYPES)})"
            )
        from safetensors import SafetensorError

        try:
            model, info = transformers.AutoModel.from_pretrained(source, local_files_only=True,
                                                                 output_loading_info=True)  # fmt: skip
        except pickle.UnpicklingError as e:  # torch's safe load refused code in a pickled checkpoint
            raise ModelError(f"upstream {upstream}: its checkpoint holds pickled objects a safe load does not "
                             "run; the bridge never loads it unsafely (use a .safetensors checkpoint)") from e
        except (OSError, ValueError, RuntimeError, EOFError, KeyError, SafetensorError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"upstream {upstream}: cannot load its weights ({reason})") from e
        # Weights that do not fit the config (a layer count edited, another model's file) leave layers at
        # random: the output then changed from run to run without a word.
        unfit = [*info.get("missing_keys", []), *(k for k, *_ in info.get("mismatched_keys", []))]
        if unfit:
            raise ModelError(f"upstream {upstream}: its weights do not match its config.json ({len(unfit)} "
                             f"tensors missing or of another shape, e.g. {unfit[0]})")  # fmt: skip
        self._model = model.float().eval()  # a float16 checkpoint runs in float32, as its inputs are
        self.n_hidden_states = int(config.num_hidden_layers) + 1
        self.hidden_size = int(config.hidden_size)
        self.stride_samples = math.prod(config.conv_stride)
        receptive = 1
        for kernel, stride in zip(reversed(config.conv_kernel), reversed(config.conv_stride), strict=True):
            receptive = (receptive - 1) * stride + kernel
        self.receptive_samples = receptive
        self._normalize = self._wants_normalized_input(transformers, source, config)
        log.info(
            "upstream %s: %s, %d hidden states x %d, input normalised: %s",
            upstream, config.model_type, self.n_hidden_states, self.hidden_size, self._normalize,
        )

    @staticmethod
    def _resolve(upstream: str) -> str:
        path = Path(upstream).expanduser()
        if path.is_dir():
            return str(path)
        if path.exists():
            raise ModelError(
                f"upstream {upstream}: a single checkpoint file; the bridge reads Hugging Face model directories "
                "(config.json + weights): convert it with transformers' conversion script for its model type"
            )
        if upstream in S3PRL_NAMES:
            return S3PRL_NAMES[upstream]
        raise ModelError(
            f"upstream {upstream}: no such directory and not a known s3prl upstream name "
            f"({', '.join(sorted(S3PRL_NAMES))})"
        )

    @staticmethod
    def _not_found(upstream: str, source: str, e: Exception) -> ModelError:
        if upstream in S3PRL_NAMES:
            return ModelError(
                f"upstream {upstream} ({source}) is not in the local Hugging Face cache and the bridge never "
                f"downloads: fetch it once (`hf download {source}`) or pass a local model directory"
            )
        return ModelError(f"upstream {upstream}: not a readable model directory ({e})")

    @staticmethod
    def _wants_normalized_input(transformers: Any, source: str, config: Any) -> bool:
        """The checkpoint's own feature-extractor setting; large (layer-norm) models normalise by default."""
        try:
            extractor = transformers.AutoFeatureExtractor.from_pretrained(source, local_files_only=True)
            return bool(extractor.do_normalize)
        except (OSError, ValueError, AttributeError):
            return bool(config.feat_extract_norm == "layer")

    def hidden_state(self, samples: F32, layer: int) -> F32:
        """(T, D) hidden state ``layer`` for a 16 kHz signal; frame j covers samples
        [j * stride_samples, j * stride_samples + receptive_samples)."""
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None]
        if self._normalize:
            x = (x - x.mean()) / torch.sqrt(x.var() + 1e-7)
        with torch.inference_mode():
            out = self._model(x, output_hidden_states=True)
        state: F32 = out.hidden_states[layer][0].numpy().astype(np.float32)
        return state
