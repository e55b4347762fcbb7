"""The LSTM network: LSTM, last timestep (or attention over timesteps), linear heads."""

from __future__ import annotations

import torch
from torch import nn

from model.config import ModelConfig

__all__ = ["LOGVAR_MAX", "LOGVAR_MIN", "LSTMNetwork"]

#: Bounds of the predicted log-variance (in scaled target units), for numerical safety.
LOGVAR_MIN = -12.0
LOGVAR_MAX = 8.0


class LSTMNetwork(nn.Module):
    """``nn.LSTM`` → last timestep (or attention) → mean and log-variance per horizon.

    Inputs and outputs are in scaled units (``Model`` does the scaling). ``forward``
    returns ``(mean, logvar)``, each ``(batch, n_horizons)``. With ``attention=True`` the
    output of the last timestep is the query of a multi-head attention over all LSTM
    outputs, added to it as a residual; ``forward(x, return_attention=True)`` also returns
    the attention weights ``(batch, seq_len)`` (averaged over heads).

    Args:
        config: The architecture.

    Examples:
        >>> net = LSTMNetwork(ModelConfig(hidden_dim=8, horizons=(1, 3)))
        >>> mean, logvar = net(torch.zeros(4, 10, 6))
        >>> tuple(mean.shape), tuple(logvar.shape)
        ((4, 2), (4, 2))
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self._infer_state: tuple | None = None  # see _run_lstm
        self.lstm = nn.LSTM(
            input_size=config.input_dim,
            hidden_size=config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
        )
        width = config.feature_dim
        self.attention = (
            nn.MultiheadAttention(width, config.num_heads, batch_first=True)
            if config.attention
            else None
        )
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.norm = nn.LayerNorm(width) if config.layer_norm else None
        hidden: list[nn.Module] = []
        for size in config.head_hidden:  # optional hidden layers before the heads
            hidden += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.hidden = nn.Sequential(*hidden) if hidden else None
        # One linear layer for both heads: columns [:H] are the means, [H:] the log-variances.
        self.head = nn.Linear(width, 2 * config.n_outputs)
        # Optional linear path from the last timestep's inputs to both heads (LSTNet's
        # "highway"): lets the outputs extrapolate where the saturating LSTM cannot.
        self.skip = nn.Linear(config.input_dim, 2 * config.n_outputs) if config.skip else None
        # The optional direction head: one logit of P(return > 0) per horizon, on the same
        # features as the return head. Made last, and its draws taken from a forked RNG
        # (the same draws as if unforked, but the global state is put back), so the other
        # layers' initialization and any later dropout mask are as without the head.
        self.direction: nn.Linear | None = None
        if config.has_direction:
            with torch.random.fork_rng(devices=[]):
                self.direction = nn.Linear(width, config.n_outputs)
        # The optional trend head: tanh of one linear output per horizon, a score in
        # [-1, 1]; made the same way (its draws do not move the other layers').
        self.trend: nn.Linear | None = None
        if config.has_trend:
            with torch.random.fork_rng(devices=[]):
                self.trend = nn.Linear(width, config.n_outputs)

    def train(self, mode: bool = True) -> LSTMNetwork:
        """Set training mode (and drop the cached inference state)."""
        self._infer_state = None
        return super().train(mode)

    def _run_lstm(self, x: torch.Tensor) -> torch.Tensor:
        """The LSTM's outputs; in inference, the kernel is called with cached zero states.

        ``nn.LSTM.forward`` spends ~0.15 ms per call in Python (weight checks, new zero
        states) around a ~0.3 ms kernel at batch 1, so the live path calls the same kernel
        (``torch.lstm``, identical numbers) with states and weight lists made once.
        """
        if self.training or torch.is_grad_enabled():
            return self.lstm(x)[0]
        state = getattr(self, "_infer_state", None)
        batch = x.shape[0]
        if state is None or state[0][0].shape[1] != batch:
            lstm = self.lstm
            layers = lstm.num_layers * (2 if lstm.bidirectional else 1)
            with torch.inference_mode(False):
                h0 = torch.zeros(layers, batch, lstm.hidden_size, dtype=x.dtype)
                c0 = torch.zeros(layers, batch, lstm.hidden_size, dtype=x.dtype)
            weights = [w for layer in lstm.all_weights for w in layer]
            state = self._infer_state = ((h0, c0), weights)
        lstm = self.lstm
        return torch.lstm(
            x,
            state[0],
            state[1],
            lstm.bias,
            lstm.num_layers,
            0.0,
            False,
            lstm.bidirectional,
            True,
        )[0]

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the network.

        Args:
            x: ``(batch, seq_len, input_dim)`` scaled features.
            return_attention: Also return the attention weights (attention networks only).

        Returns:
            ``(mean, logvar)``, or ``(mean, logvar, weights)`` with ``return_attention``.

        Raises:
            ValueError: ``return_attention`` on a network without attention.
        """
        mean, logvar, _, weights = self._forward(x, return_attention)
        if return_attention:
            return mean, logvar, weights
        return mean, logvar

    def forward_heads(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Run the network with every head.

        Args:
            x: ``(batch, seq_len, input_dim)`` scaled features.

        Returns:
            ``(mean, logvar, extra)``: ``extra`` maps each head beside the return head to
            its ``(batch, n_horizons)`` output: ``"direction"``, the logits of ``P(return
            > 0)``; ``"trend"``, the scores in [-1, 1]. Empty without such heads.
        """
        mean, logvar, extra, _ = self._forward(x, False)
        return mean, logvar, extra

    def _forward(
        self, x: torch.Tensor, return_attention: bool
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        out = self._run_lstm(x)
        last = out[:, -1, :]
        if self.config.bidirectional:
            # the backward direction has read the whole sequence at the FIRST step
            h = self.config.hidden_dim
            last = torch.cat((out[:, -1, :h], out[:, 0, h:]), dim=1)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(
                last.unsqueeze(1), out, out, need_weights=return_attention
            )
            last = last + context.squeeze(1)
        elif return_attention:
            raise ValueError("this network has no attention (ModelConfig.attention=False)")
        if self.norm is not None:
            last = self.norm(last)
        last = self.dropout(last)
        if self.hidden is not None:
            last = self.hidden(last)
        z = self.head(last)
        if self.skip is not None:
            z = z + self.skip(x[:, -1, :])
        n = self.config.n_outputs
        mean = z[:, :n]
        logvar = z[:, n:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        extra: dict[str, torch.Tensor] = {}
        if self.direction is not None:
            extra["direction"] = self.direction(last)
        if self.trend is not None:
            extra["trend"] = torch.tanh(self.trend(last))
        return mean, logvar, extra, weights.squeeze(1) if return_attention else None
