"""finance_demo: the stock-analyzer pipeline wired from the four lower packages.

Candles → ``Buffer`` windows → ``FeatureExtraction`` → sequences → ``Model``; offline
(:func:`build_dataset`, :func:`train_model`, :func:`batch_predict`) and live
(:class:`System`, :class:`Activator`), with the same predictions at the same ticks;
:func:`backtest` runs a walk-forward evaluation against baselines (:mod:`finance_demo.stats`).
"""

from finance_demo.activator import Activator, Summary, check_spacing
from finance_demo.backtest import backtest, fold_bounds
from finance_demo.backtest_report import BacktestReport
from finance_demo.batch import batch_predict
from finance_demo.config import (
    DataConfig,
    EvaluationConfig,
    Pipeline,
    SettingField,
    Settings,
    load_settings,
    load_settings_file,
    schema_markdown,
    settings_from_flags,
    settings_schema,
)
from finance_demo.dataset import Dataset, build_dataset, closes_of, split_dataset
from finance_demo.errors import (
    ForeignModelError,
    InsufficientDataError,
    IntervalMismatchError,
    PipelineError,
    SettingsError,
)
from finance_demo.journal import PredictionLog
from finance_demo.live_metrics import LiveMetrics
from finance_demo.system import Prediction, Predictor, System, pipeline_of
from finance_demo.training import evaluate, train_model

__version__ = "1.0.0"
__all__ = [
    "Activator",
    "BacktestReport",
    "DataConfig",
    "Dataset",
    "EvaluationConfig",
    "ForeignModelError",
    "InsufficientDataError",
    "IntervalMismatchError",
    "LiveMetrics",
    "Pipeline",
    "PipelineError",
    "Prediction",
    "PredictionLog",
    "Predictor",
    "SettingField",
    "Settings",
    "SettingsError",
    "Summary",
    "System",
    "__version__",
    "backtest",
    "batch_predict",
    "build_dataset",
    "check_spacing",
    "closes_of",
    "evaluate",
    "fold_bounds",
    "load_settings",
    "load_settings_file",
    "pipeline_of",
    "schema_markdown",
    "settings_from_flags",
    "settings_schema",
    "split_dataset",
    "train_model",
]
