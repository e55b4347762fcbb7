"""signal_processing: the sliding-window ``Buffer`` and the ``System`` base class.

``Buffer`` keeps the last ``buffer_size`` samples in preallocated storage and says when a
window is due; ``System`` pushes frames into a buffer and runs an ordered chain of modules
on every due window.
"""

from signal_processing.buffer import Buffer, BufferConfig, BufferNotFullError
from signal_processing.system import System

__version__ = "1.0.0"
__all__ = ["Buffer", "BufferConfig", "BufferNotFullError", "System", "__version__"]
