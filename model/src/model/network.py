"""The LSTM network: LSTM, last timestep (or attention over timesteps), two linear heads."""

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
        # One linear layer for both heads: columns [:H] are the means, [H:] the log-variances.
        self.head = nn.Linear(width, 2 * config.n_outputs)
        # Optional linear path from the last timestep's inputs to both heads (LSTNet's
        # "highway"): lets the outputs extrapolate where the saturating LSTM cannot.
        self.skip = nn.Linear(config.input_dim, 2 * config.n_outputs) if config.skip else None

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
        out, _ = self.lstm(x)
        last = out[:, -1, :]
        weights = None
        if self.attention is not None:
            context, weights = self.attention(
                last.unsqueeze(1), out, out, need_weights=return_attention
            )
            last = last + context.squeeze(1)
        elif return_attention:
            raise ValueError("this network has no attention (ModelConfig.attention=False)")
        z = self.head(self.dropout(last))
        if self.skip is not None:
            z = z + self.skip(x[:, -1, :])
        n = self.config.n_outputs
        mean = z[:, :n]
        logvar = z[:, n:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        if return_attention:
            return mean, logvar, weights.squeeze(1)
        return mean, logvar
