"""signlang: real-time sign-language recognition with MediaPipe Holistic and an LSTM."""

from signlang.errors import SignlangError

__version__ = "0.1.0"
__all__ = ["SignlangError", "__version__"]
