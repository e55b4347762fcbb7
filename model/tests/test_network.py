import pytest
import torch
from model.network import LOGVAR_MAX, LOGVAR_MIN

from model import LSTMNetwork, ModelConfig


def test_output_shapes(args, expected):
    net = LSTMNetwork(ModelConfig(**args["config"])).eval()
    mean, logvar = net(torch.randn(args["batch"], args["seq_len"], 6))
    assert list(mean.shape) == expected
    assert list(logvar.shape) == expected
    assert bool(((logvar >= LOGVAR_MIN) & (logvar <= LOGVAR_MAX)).all())


def test_attention_weights_are_a_distribution_over_timesteps():
    torch.manual_seed(0)
    net = LSTMNetwork(ModelConfig(attention=True, hidden_dim=8, num_heads=2)).eval()
    _, _, weights = net(torch.randn(4, 9, 6), return_attention=True)
    assert weights.shape == (4, 9)
    assert torch.allclose(weights.sum(dim=1), torch.ones(4))


def test_attention_changes_the_output():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6)
    net = LSTMNetwork(ModelConfig(attention=True, hidden_dim=8, num_heads=2)).eval()
    with_attention = net(x)[0]
    net.attention = None
    assert not torch.allclose(with_attention, net(x)[0])


def test_return_attention_without_attention_is_an_error():
    with pytest.raises(ValueError, match="no attention"):
        LSTMNetwork(ModelConfig())(torch.zeros(1, 3, 6), return_attention=True)


def test_default_network_is_the_designs():
    net = LSTMNetwork(ModelConfig())
    assert (net.lstm.input_size, net.lstm.hidden_size, net.lstm.num_layers) == (6, 32, 2)
    assert net.lstm.batch_first and net.attention is None and net.skip is None


def test_inference_lstm_path_equals_the_module(args):
    # In inference the network calls the LSTM kernel itself with cached zero states
    # (the live path); it must give nn.LSTM's outputs bit for bit, for every batch size
    # in turn (the cache is rebuilt when the batch size changes) and after retraining.
    torch.manual_seed(0)
    net = LSTMNetwork(ModelConfig(**args["config"])).eval()
    for batch in (1, 4, 1):
        x = torch.randn(batch, 12, 6)
        with torch.no_grad():
            reference = net.lstm(x)[0]
        with torch.inference_mode():
            fast = net._run_lstm(x)
        assert torch.equal(reference, fast)
    net.train()
    with torch.no_grad():
        for p in net.lstm.parameters():
            p.add_(0.1)
    net.eval()
    x = torch.randn(1, 12, 6)
    with torch.no_grad():
        reference = net.lstm(x)[0]
    with torch.inference_mode():
        assert torch.equal(reference, net._run_lstm(x))


def test_bidirectional_summary_has_read_the_whole_sequence():
    # changing the first step must change the output through both directions; the
    # backward half of the summary is the reverse LSTM's state after reading x[0]
    torch.manual_seed(0)
    net = LSTMNetwork(ModelConfig(bidirectional=True, hidden_dim=8, num_layers=1)).eval()
    x = torch.randn(2, 10, 6)
    y = x.clone()
    y[:, 0] += 1.0
    with torch.no_grad():
        out = net.lstm(x)[0]
        backward_first = out[:, 0, 8:]
        reverse_only_last = net.lstm(x[:, -1:])[0][:, 0, 8:]
        assert not torch.allclose(backward_first, reverse_only_last)
        assert not torch.allclose(net(x)[0], net(y)[0])
        # the head reads the backward state at step 0, not at the last step
        net.head.weight.zero_()
        net.head.weight[:, 8:] = 1.0
        net.head.bias.zero_()
        expected = backward_first.sum(dim=1, keepdim=True)
        assert torch.allclose(net(x)[0], expected)
