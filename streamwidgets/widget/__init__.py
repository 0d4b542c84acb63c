"""The Jupyter widget: the kernel half of StreamWidget and its browser bundle (static/).

``widget`` is StreamWidget; ``protocol`` is the contract with the browser half (mirrored
by ``js/src/protocol.js``); ``encoding`` encodes the bulk parts of its messages;
``updates`` builds what goes to the browser; ``instances`` tracks live widgets;
``frontend`` loads the bundle; ``kernel_loop`` runs coroutines on the kernel's loop.
"""

from streamwidgets.widget.widget import StreamWidget

__all__ = ["StreamWidget"]
