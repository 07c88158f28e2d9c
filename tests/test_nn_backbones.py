"""ConvModel (the paper's network) and MLP."""

import pytest
import torch

from sklearn_hier.nn.backbones import MLP, ConvModel


def test_conv_model_is_the_papers_network():
    model = ConvModel()
    # 4 x [3x3 conv + BN]: (9 + 1) x 128 + 256, then 3 x ((9 x 128 + 1) x 128 + 256);
    # Linear(128 channels x 8 mel bins = 1024 -> 256): 1024 x 256 + 256.
    expected = (10 * 128 + 256) + 3 * ((9 * 128 + 1) * 128 + 256) + (1024 * 256 + 256)
    assert sum(p.numel() for p in model.parameters()) == expected == 707_456
    assert model.fc.in_features == 1024
    model.eval()
    with torch.no_grad():
        z = model(torch.randn(2, 128, 87))
    assert z.shape == (2, 256)


def test_conv_model_takes_a_channel_axis_and_any_length():
    torch.manual_seed(0)
    model = ConvModel(n_mels=16, channels=4, n_blocks=2, embedding_dim=8).eval()
    x = torch.randn(3, 16, 13)
    with torch.no_grad():
        assert torch.equal(model(x), model(x.unsqueeze(1)))
        assert model(torch.randn(3, 16, 4)).shape == (3, 8)
        assert model(torch.randn(3, 16, 301)).shape == (3, 8)


def test_conv_model_max_over_time_ignores_where_the_peak_is():
    torch.manual_seed(0)
    model = ConvModel(n_mels=16, channels=4, n_blocks=2, embedding_dim=8).eval()
    x = torch.zeros(1, 16, 64)
    x[0, :, 16:20] = torch.randn(16, 4)
    # Shifted by a multiple of 2**n_blocks (pool windows stay aligned), and far from the padded edges.
    shifted = torch.roll(x, shifts=16, dims=2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(shifted))


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 15, 20), r"\(B, 16, T\) or \(B, 1, 16, T\); got \(2, 15, 20\)"),
        ((2, 2, 16, 20), r"got \(2, 2, 16, 20\)"),
        ((16, 20), r"got \(16, 20\)"),
        ((2, 16, 3), "at least 4 frames; got 3"),
    ],
)
def test_conv_model_rejects_bad_shapes(shape, match):
    model = ConvModel(n_mels=16, channels=4, n_blocks=2, embedding_dim=8)
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(shape))


def test_conv_model_rejects_bad_parameters():
    with pytest.raises(ValueError, match="n_mels=8 is too small for n_blocks=4: it must be >= 16"):
        ConvModel(n_mels=8)
    with pytest.raises(ValueError, match="channels must be a positive int; got 0"):
        ConvModel(channels=0)
    with pytest.raises(ValueError, match="embedding_dim must be a positive int; got 2.5"):
        ConvModel(embedding_dim=2.5)


def test_mlp_shapes_and_layers():
    model = MLP(5, hidden=(7, 6), embedding_dim=3)
    assert [m.out_features for m in model.layers if isinstance(m, torch.nn.Linear)] == [7, 6, 3]
    assert model(torch.randn(4, 5)).shape == (4, 3)
    linear = MLP(5, hidden=(), embedding_dim=2)
    assert len(linear.layers) == 1
    with pytest.raises(ValueError, match=r"\(B, 5\); got \(4, 6\)"):
        model(torch.randn(4, 6))
    with pytest.raises(ValueError, match="every width in hidden"):
        MLP(5, hidden=(0,))
