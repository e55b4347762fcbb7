"""finance_demo: the stock-analyzer pipeline wired from the four lower packages.

Candles → ``Buffer`` windows → ``FeatureExtraction`` → sequences → ``Model``; offline
(:func:`build_dataset`, :func:`train_model`, :func:`batch_predict`) and live
(:class:`System`, :class:`Activator`), with the same predictions at the same ticks;
:func:`backtest` runs a walk-forward evaluation against baselines (:mod:`finance_demo.stats`),
:func:`compare_models` the same for several model kinds side by side.
"""

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it; imported on first use (PEP 562), so that
#: ``import finance_demo`` (or one light module such as ``finance_demo.config``) does not pay
#: for pandas, scipy and torch until a name that needs them is used.
_EXPORTS = {
    "Activator": "finance_demo.activator",
    "BacktestReport": "finance_demo.backtest_report",
    "DataConfig": "finance_demo.config",
    "Entry": "finance_demo.registry",
    "Dataset": "finance_demo.dataset",
    "EngineError": "finance_demo.engine",
    "EvaluationConfig": "finance_demo.config",
    "GlobalComparison": "finance_demo.global_model",
    "SymbolModel": "finance_demo.global_model",
    "backtest_global": "finance_demo.global_model",
    "bind_symbol": "finance_demo.global_model",
    "is_global": "finance_demo.global_model",
    "train_global": "finance_demo.global_model",
    "Forecast": "finance_demo.forecast",
    "ForeignModelError": "finance_demo.errors",
    "InsufficientDataError": "finance_demo.errors",
    "IntervalMismatchError": "finance_demo.errors",
    "LiveMetrics": "finance_demo.live_metrics",
    "MultiActivator": "finance_demo.multi_live",
    "MultiResult": "finance_demo.multi",
    "MultiSummary": "finance_demo.multi_live",
    "MultiSystem": "finance_demo.multi_live",
    "PipelineError": "finance_demo.errors",
    "PipelineSpec": "finance_demo.config",
    "Prediction": "finance_demo.system",
    "Registry": "finance_demo.registry",
    "RegistryError": "finance_demo.registry",
    "PredictionLog": "finance_demo.journal",
    "Predictor": "finance_demo.system",
    "SearchSpace": "finance_demo.tuning",
    "TuneResult": "finance_demo.tuning",
    "load_space_file": "finance_demo.tuning",
    "tune": "finance_demo.tuning",
    "SettingField": "finance_demo.config",
    "Settings": "finance_demo.config",
    "SettingsError": "finance_demo.errors",
    "Summary": "finance_demo.activator",
    "backtest_rows": "finance_demo.exports",
    "coverage_by_level": "finance_demo.exports",
    "prediction_metrics": "finance_demo.exports",
    "prediction_rows": "finance_demo.exports",
    "write_predictions": "finance_demo.exports",
    "atomic_write": "finance_demo.files",
    "holdout_predictions": "finance_demo.batch",
    "System": "finance_demo.system",
    "backtest": "finance_demo.backtest",
    "backtest_many": "finance_demo.backtest",
    "backtest_symbol": "finance_demo.multi",
    "backtest_symbols": "finance_demo.multi",
    "ComparisonReport": "finance_demo.compare",
    "check_kinds": "finance_demo.compare",
    "compare_models": "finance_demo.compare",
    "batch_predict": "finance_demo.batch",
    "build_dataset": "finance_demo.dataset",
    "check_spacing": "finance_demo.activator",
    "closes_of": "finance_demo.dataset",
    "evaluate": "finance_demo.training",
    "few_samples": "finance_demo.training",
    "fold_bounds": "finance_demo.backtest",
    "load_settings": "finance_demo.config",
    "make_engine": "finance_demo.engine",
    "load_settings_file": "finance_demo.config",
    "market_regime": "finance_demo.forecast",
    "price_decimals": "finance_demo.config",
    "read_watchlist": "finance_demo.multi",
    "run_symbols": "finance_demo.multi",
    "schema_markdown": "finance_demo.config",
    "settings_from_flags": "finance_demo.config",
    "settings_schema": "finance_demo.config",
    "spec_of": "finance_demo.system",
    "split_dataset": "finance_demo.dataset",
    "train_model": "finance_demo.training",
    "train_symbol": "finance_demo.multi",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'finance_demo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """The package object: an exported name never turns into the submodule of that name.

    Importing a submodule sets it as an attribute of its package (``import
    finance_demo.backtest`` sets ``finance_demo.backtest`` to the module), which would
    shadow the function exported under the same name. For every export whose name is
    also a submodule, the export wins: the attribute keeps (or becomes) the function;
    the module stays in ``sys.modules`` for ``from finance_demo.backtest import ...`` and
    ``importlib.import_module("finance_demo.backtest")`` (``import finance_demo.backtest
    as m`` reads the package attribute, so ``m`` is the function too).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and _EXPORTS.get(name) == value.__name__ == f"{__name__}.{name}"
            and hasattr(value, name)
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from finance_demo.activator import Activator, Summary, check_spacing
    from finance_demo.backtest import backtest, fold_bounds
    from finance_demo.backtest_report import BacktestReport
    from finance_demo.batch import batch_predict, holdout_predictions
    from finance_demo.compare import ComparisonReport, check_kinds, compare_models
    from finance_demo.config import (
        DataConfig,
        EvaluationConfig,
        PipelineSpec,
        SettingField,
        Settings,
        load_settings,
        load_settings_file,
        price_decimals,
        schema_markdown,
        settings_from_flags,
        settings_schema,
    )
    from finance_demo.dataset import Dataset, build_dataset, closes_of, split_dataset
    from finance_demo.engine import EngineError, make_engine
    from finance_demo.errors import (
        ForeignModelError,
        InsufficientDataError,
        IntervalMismatchError,
        PipelineError,
        SettingsError,
    )
    from finance_demo.exports import (
        backtest_rows,
        coverage_by_level,
        prediction_metrics,
        prediction_rows,
        write_predictions,
    )
    from finance_demo.files import atomic_write
    from finance_demo.global_model import (
        GlobalComparison,
        SymbolModel,
        backtest_global,
        bind_symbol,
        is_global,
        train_global,
    )
    from finance_demo.journal import PredictionLog
    from finance_demo.live_metrics import LiveMetrics
    from finance_demo.multi import (
        MultiResult,
        backtest_symbol,
        backtest_symbols,
        read_watchlist,
        run_symbols,
        train_symbol,
    )
    from finance_demo.multi_live import MultiActivator, MultiSummary, MultiSystem
    from finance_demo.system import Prediction, Predictor, System, spec_of
    from finance_demo.training import evaluate, few_samples, train_model
    from finance_demo.tuning import SearchSpace, TuneResult, load_space_file, tune


__version__ = "1.0.0"
__all__ = [
    "Activator",
    "BacktestReport",
    "ComparisonReport",
    "DataConfig",
    "Dataset",
    "EngineError",
    "Entry",
    "EvaluationConfig",
    "Forecast",
    "ForeignModelError",
    "GlobalComparison",
    "InsufficientDataError",
    "IntervalMismatchError",
    "LiveMetrics",
    "MultiActivator",
    "MultiResult",
    "MultiSummary",
    "MultiSystem",
    "PipelineError",
    "PipelineSpec",
    "Prediction",
    "PredictionLog",
    "Predictor",
    "Registry",
    "RegistryError",
    "SearchSpace",
    "SettingField",
    "Settings",
    "SettingsError",
    "Summary",
    "SymbolModel",
    "System",
    "TuneResult",
    "atomic_write",
    "backtest",
    "backtest_global",
    "backtest_many",
    "backtest_rows",
    "backtest_symbol",
    "backtest_symbols",
    "batch_predict",
    "bind_symbol",
    "build_dataset",
    "check_kinds",
    "check_spacing",
    "closes_of",
    "compare_models",
    "coverage_by_level",
    "evaluate",
    "few_samples",
    "fold_bounds",
    "holdout_predictions",
    "is_global",
    "load_settings",
    "load_settings_file",
    "load_space_file",
    "make_engine",
    "market_regime",
    "prediction_metrics",
    "prediction_rows",
    "price_decimals",
    "read_watchlist",
    "run_symbols",
    "schema_markdown",
    "settings_from_flags",
    "settings_schema",
    "spec_of",
    "split_dataset",
    "train_global",
    "train_model",
    "train_symbol",
    "tune",
    "write_predictions",
]
