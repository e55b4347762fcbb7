"""The ``System`` base: a buffer feeding an ordered chain of modules, one frame at a time.

A module is any object with an ``execute(**inputs)`` method. On every frame that makes a
window due, ``process_frame`` runs the modules in order; ``connect(name)`` decides the
keyword arguments each one receives. The default ``connect`` is a plain chain (the first
module gets the window as ``data``, every later one the previous module's output);
subclasses override it to route data differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from signal_processing.buffer import Buffer

__all__ = ["System"]


class System:
    """A :class:`Buffer` and an ordered ``modules`` dict run on every due window.

    Attributes:
        input_buffer: The buffer every frame is pushed into.
        modules: Ordered ``name -> module``; each module has ``execute(**inputs)``.
        inputs: The current tick's inputs: ``frame`` (the last frame), ``tick`` (its
            0-based index since reset) and, on a due tick, ``window`` (a fresh array).
        outputs: ``name -> result`` of the modules on the last due tick.

    Args:
        buffer: The input buffer.
        modules: ``name -> module`` mapping or ``(name, module)`` pairs, in run order.

    Raises:
        TypeError: ``buffer`` is not a :class:`Buffer`, or a module has no ``execute``.
        ValueError: A module name is not a non-empty string or is given twice.

    Examples:
        >>> class Mean:
        ...     def execute(self, data):
        ...         return float(data.mean())
        >>> class Double:
        ...     def execute(self, data):
        ...         return 2 * data
        >>> system = System(Buffer(3), {"mean": Mean(), "double": Double()})
        >>> [system.process_frame(x) for x in [1.0, 2.0, 3.0, 4.0]]
        [None, None, 4.0, 6.0]
        >>> system.outputs
        {'mean': 3.0, 'double': 6.0}
    """

    def __init__(
        self,
        buffer: Buffer,
        modules: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    ) -> None:
        if not isinstance(buffer, Buffer):
            raise TypeError(f"buffer must be a Buffer, got {type(buffer).__name__}")
        self.input_buffer = buffer
        self.modules: dict[str, Any] = {}
        items = modules.items() if isinstance(modules, Mapping) else modules
        for name, module in items:
            self.add_module(name, module)
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}

    def add_module(self, name: str, module: Any) -> None:
        """Append a module to the end of the chain.

        Args:
            name: Unique name; its result is stored in ``outputs[name]``.
            module: An object with an ``execute(**inputs)`` method.

        Raises:
            TypeError: ``module`` has no callable ``execute``.
            ValueError: ``name`` is empty, not a string, or already used.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"modules: a module name must be a non-empty string, got {name!r}")
        if name in self.modules:
            raise ValueError(f"modules: name {name!r} is given twice")
        if not callable(getattr(module, "execute", None)):
            raise TypeError(
                f"modules: {name!r} ({type(module).__name__}) has no execute(**inputs) method"
            )
        self.modules[name] = module

    def connect(self, name: str) -> dict[str, Any]:
        """Return the keyword arguments of module ``name`` for the current window.

        The default is a chain: the first module gets ``data=inputs["window"]``, every
        later one ``data=outputs[<previous module>]``. Override to route differently; the
        outputs of the modules before ``name`` are already in ``self.outputs``.

        Args:
            name: The module about to run.

        Returns:
            The keyword arguments for its ``execute``.
        """
        names = list(self.modules)
        index = names.index(name)
        if index == 0:
            return {"data": self.inputs["window"]}
        return {"data": self.outputs[names[index - 1]]}

    def process_frame(self, frame: Any) -> Any:
        """Push one frame; on a due window run every module in order.

        Args:
            frame: One sample for the buffer (shape ``channel_shape`` or a number).

        Returns:
            The last module's output when a window was due, else ``None``.

        Raises:
            ValueError: ``frame`` does not fit the buffer's ``channel_shape``.
        """
        due = self.input_buffer.push(frame)
        self.inputs = {"frame": frame, "tick": self.input_buffer.ticks - 1}
        if not due:
            return None
        self.inputs["window"] = self.input_buffer.get_window()
        self.outputs = {}
        result = None
        for name, module in self.modules.items():
            result = module.execute(**self.connect(name))
            self.outputs[name] = result
        return result

    def reset(self) -> None:
        """Empty the buffer and forget the last inputs and outputs."""
        self.input_buffer.reset()
        self.inputs = {}
        self.outputs = {}
