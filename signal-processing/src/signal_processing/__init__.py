"""signal_processing (skeleton; filled by a later issue)."""

__version__ = "1.0.0"
__all__ = ["__version__"]
