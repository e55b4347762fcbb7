"""feature_extraction: six trend/FFT features of price windows, live and in bulk.

``FeatureExtraction.execute`` computes one window (the live path);
``FeatureExtraction.transform`` computes every window of a history with no per-window
Python loop and gives the same numbers.
"""

from feature_extraction.config import FEATURE_NAMES, NORMALIZE_CHOICES, FeatureConfig
from feature_extraction.extraction import FeatureExtraction

__version__ = "1.0.0"
__all__ = [
    "FEATURE_NAMES",
    "NORMALIZE_CHOICES",
    "FeatureConfig",
    "FeatureExtraction",
    "__version__",
]
