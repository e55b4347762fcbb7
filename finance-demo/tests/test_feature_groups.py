"""Feature groups through the pipeline: settings, OHLCV buffers, batch = live per group."""

from __future__ import annotations

import numpy as np
import pytest
from data_fetcher import load_sample
from feature_extraction import GROUP_CHOICES, GROUPS
from finance_demo import (
    PipelineError,
    PipelineSpec,
    SettingsError,
    System,
    batch_predict,
    build_dataset,
    load_settings,
    load_settings_file,
    settings_from_flags,
    spec_of,
    train_model,
)

OHLCV = ["Open", "High", "Low", "Close", "Volume"]


def settings_for(groups, buffer_size=40, step_size=1):
    return load_settings(
        {
            "buffer": {"buffer_size": buffer_size, "step_size": step_size},
            "features": {"window_size": 4, "groups": list(groups)},
            "model": {"seq_len": 5, "hidden_dim": 8, "num_layers": 1},
            "training": {"epochs": 1, "batch_size": 64, "val_fraction": 0.2},
            "evaluation": {"test_fraction": 0.2},
        }
    )


@pytest.fixture(scope="module")
def sample():
    """Real daily candles: the last 400 of the shipped S&P 500 sample."""
    return load_sample("^GSPC").iloc[-400:]


_MODELS: dict = {}


def model_for(groups, candles, step_size=1):
    key = (tuple(groups), step_size, len(candles), float(candles["Close"].iloc[-1]))
    if key not in _MODELS:
        settings = settings_for(groups, step_size=step_size)
        _MODELS[key] = train_model(candles, settings, symbol="^GSPC", interval="1d")
    return _MODELS[key]


def stream_rows(system, candles):
    """Feed candles one row at a time; keep each prediction and the model input it saw."""
    preds, inputs = {}, {}
    rows = candles[OHLCV].to_numpy()
    for t, row in zip(candles.index, rows, strict=True):
        pred = system.process_row(t, row)
        if pred is not None:
            preds[pred.tick] = pred
            inputs[pred.tick] = system.ring.get_window()
    return preds, inputs


# --- settings: groups, derived channel_shape and input_dim ---------------------------


def test_settings_derive_channel_shape_and_input_dim():
    s = settings_for(("trend_fft", "range_vol", "volume"))
    assert s.buffer.channel_shape == (5,) and s.model.input_dim == 6 + 3 + 1
    assert s.pipeline.features.groups == ("trend_fft", "range_vol", "volume")
    close_only = settings_for(("returns", "technical"))
    assert close_only.buffer.channel_shape == (1,) and close_only.model.input_dim == 8
    # back to close-only groups over an OHLCV base: the shape follows again
    again = load_settings({"features": {"groups": ["returns"]}}, s)
    assert again.buffer.channel_shape == (1,) and again.model.input_dim == 4
    assert "channel_shape" not in s.to_dict()["buffer"]
    assert s.to_dict()["features"]["groups"] == ["trend_fft", "range_vol", "volume"]


def test_groups_in_a_yaml_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("features:\n  groups: [trend_fft, returns]\nbuffer:\n  buffer_size: 30\n")
    s = load_settings_file(path)
    assert s.features.groups == ("trend_fft", "returns") and s.model.input_dim == 10
    path.write_text("features:\n  groups: [trend_fft, candles]\n")
    with pytest.raises(SettingsError, match=r"features\.groups must be among .*'candles'") as info:
        load_settings_file(path)
    assert "\n" not in str(info.value)
    assert load_settings(s.to_dict()) == s  # round trip through the file layout


def test_groups_as_a_flag():
    s = settings_from_flags({"features.groups": ("trend_fft", "returns")})
    assert s.features.groups == ("trend_fft", "returns")
    click = pytest.importorskip("click")
    options = pytest.importorskip("stock_analyzer.options")

    @click.command()
    @options.settings_options(("buffer", "features"))
    @click.pass_context
    def show(ctx, **opts):
        settings = options.merge_settings(ctx, opts)
        click.echo(",".join(settings.features.groups))
        click.echo(str(settings.model.input_dim))

    from click.testing import CliRunner

    result = CliRunner().invoke(show, ["--groups", "trend_fft,returns"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["trend_fft,returns", "10"]
    bad = CliRunner().invoke(show, ["--groups", "trend_fft,bogus"])
    assert bad.exit_code == 2 and "features.groups must be among" in bad.output


@pytest.mark.parametrize(
    ("group", "size", "need"),
    [("returns", 10, 11), ("realized_vol", 20, 21), ("technical", 34, 35)],
)
def test_too_short_a_buffer_is_one_line(group, size, need):
    with pytest.raises(SettingsError) as info:
        load_settings({"buffer": {"buffer_size": size}, "features": {"groups": [group]}})
    message = str(info.value)
    assert message.startswith(f"buffer_size must be at least {need} for features.groups {group}")
    assert "\n" not in message
    with pytest.raises(SettingsError, match=f"at least {need}"):
        PipelineSpec.build(buffer_size=size, groups=(group,))


def test_ohlcv_buffer_cap_is_one_line():
    with pytest.raises(SettingsError, match=r"buffer\.buffer_size \* channels must be at most"):
        load_settings({"buffer": {"buffer_size": 300_000}, "features": {"groups": ["volume"]}})


def test_spec_refuses_a_channel_shape_that_is_not_the_groups():
    spec = PipelineSpec.build(groups=("range_vol",))
    assert spec.buffer.channel_shape == (5,) and spec.model.input_dim == 3
    recorded = spec.to_dict()
    recorded["buffer"]["channel_shape"] = [1]
    with pytest.raises(SettingsError, match="OHLCV candles"):
        PipelineSpec.from_dict(recorded, spec.model)


# --- batch: the candles the groups read ----------------------------------------------


def test_filled_columns_are_refused_by_ohlcv_groups(sample):
    candles = sample.copy()
    candles.attrs["filled_columns"] = ["Open", "High", "Low", "Volume"]
    for groups, filled in ((("range_vol",), "Open/High/Low"), (("volume",), "Volume")):
        spec = settings_for(groups).pipeline
        with pytest.raises(PipelineError, match=f"need real {filled} values") as info:
            build_dataset(candles, spec)
        assert "\n" not in str(info.value)
    # close-only groups read only the closes: fine
    assert len(build_dataset(candles, settings_for(("returns", "technical")).pipeline)) > 0


def test_close_only_csv_is_refused_by_range_vol(tmp_path, sample):
    from data_fetcher import Fetcher

    path = tmp_path / "closes.csv"
    path.write_text(
        "Date,Close\n"
        + "".join(f"{t:%Y-%m-%d},{c}\n" for t, c in zip(sample.index, sample["Close"], strict=True))
    )
    candles = Fetcher("X", interval="1d", source=f"csv:{path}").fetch_historical()
    assert "Open" in candles.attrs.get("filled_columns", ())
    with pytest.raises(PipelineError, match=r"filled in .* use close-only groups"):
        build_dataset(candles, settings_for(("trend_fft", "range_vol")).pipeline)


def test_bad_ohlcv_values_are_one_line(sample):
    candles = sample.copy()
    candles.iloc[10, candles.columns.get_loc("Low")] = 0.0
    with pytest.raises(PipelineError, match="1 rows with a missing, non-positive or absurd"):
        build_dataset(candles, settings_for(("range_vol",)).pipeline)
    candles = sample.drop(columns="Volume")
    with pytest.raises(PipelineError, match="no Volume column"):
        build_dataset(candles, settings_for(("volume",)).pipeline)


def test_dataset_rows_are_the_extractors(sample):
    spec = settings_for(("trend_fft", "range_vol", "realized_vol")).pipeline
    data = build_dataset(sample, spec)
    from feature_extraction import FeatureExtraction

    fx = FeatureExtraction.from_config(spec.features)
    rows = sample[OHLCV].to_numpy()
    j = len(data) - 1
    t = data.ticks[j]
    expected = np.stack([fx.execute(rows[e - 39 : e + 1]) for e in range(t - 4, t + 1)])
    assert np.array_equal(data.X[j], expected)
    assert data.X.shape[2] == 12 == spec.model.input_dim


# --- live = batch, per group -----------------------------------------------------------


@pytest.mark.parametrize("groups", [(g,) for g in GROUP_CHOICES] + [tuple(GROUP_CHOICES)], ids=str)
def test_live_rows_equal_batch_per_group(groups, sample):
    model = model_for(groups, sample)
    system = System(model)
    assert system.input_buffer.channel_shape == (5 if system.needs_ohlcv else 1,)
    assert system.needs_ohlcv == any(GROUPS[g].needs_ohlcv for g in groups)
    preds, inputs = stream_rows(system, sample)
    data = build_dataset(sample, spec_of(model))
    assert sorted(preds) == data.ticks.tolist()
    for j, t in enumerate(data.ticks):
        assert np.array_equal(inputs[t], data.X[j])  # the model input, bit for bit
    batch = batch_predict(model, sample)
    rows = batch.set_index("tick")
    got = np.array([preds[t].mean[0] for t in rows.index])
    np.testing.assert_allclose(got, rows["predicted_return"].to_numpy(), rtol=0, atol=1e-6)
    assert all(preds[t].close == sample["Close"].iloc[t] for t in list(preds)[:5])


@pytest.mark.parametrize("groups", [("range_vol", "volume"), ("technical",)], ids=str)
def test_live_equals_batch_with_a_step(groups, sample):
    model = model_for(groups, sample, step_size=3)
    preds, inputs = stream_rows(System(model), sample)
    data = build_dataset(sample, spec_of(model))
    assert sorted(preds) == data.ticks.tolist()
    assert all(np.array_equal(inputs[t], data.X[j]) for j, t in enumerate(data.ticks))


@pytest.mark.parametrize("groups", [("trend_fft", "range_vol", "volume"), ("returns",)], ids=str)
@pytest.mark.parametrize("warm", [30, 120])
def test_warm_up_with_candles_matches_streaming(groups, warm, sample):
    model = model_for(groups, sample)
    reference, ref_inputs = stream_rows(System(model), sample)
    for history in (sample.iloc[:warm], sample[OHLCV].to_numpy()[:warm]):
        system = System(model)
        system.warm_up(history)
        got, inputs = stream_rows_from(system, sample, warm)
        assert sorted(got) == [t for t in sorted(reference) if t >= warm]
        assert all(np.array_equal(inputs[t], ref_inputs[t]) for t in got)


def stream_rows_from(system, candles, start):
    preds, inputs = {}, {}
    rows = candles[OHLCV].to_numpy()
    for t in range(start, len(candles)):
        pred = system.process_row(candles.index[t], rows[t])
        if pred is not None:
            assert pred.tick == t
            preds[t] = pred
            inputs[t] = system.ring.get_window()
    return preds, inputs


def test_ohlcv_model_refuses_closes_only(sample):
    system = System(model_for(("volume",), sample))
    with pytest.raises(PipelineError, match="read OHLCV candles: process_candle needs whole rows"):
        system.process_candle(sample.index[0], 100.0)
    with pytest.raises(PipelineError, match="warm_up needs whole rows"):
        system.warm_up(sample["Close"].to_numpy())
    with pytest.raises(ValueError, match="a candle row must be 5 numbers"):
        system.process_row(sample.index[0], (1.0, 2.0))
    assert (
        system.process_row(sample.index[0], dict(zip(OHLCV, [1.0, 2, 0.5, 1.5, 10], strict=True)))
        is None
    )


def test_close_only_model_takes_rows_or_closes(sample):
    model = model_for(("returns",), sample)
    a, b = System(model), System(model)
    rows = sample[OHLCV].to_numpy()
    for t in range(len(sample)):
        pa = a.process_candle(sample.index[t], float(rows[t, 3]))
        pb = b.process_row(sample.index[t], sample.iloc[t])
        assert (pa is None) == (pb is None)
        if pa is not None:
            assert np.array_equal(pa.mean, pb.mean) and pa.close == pb.close
