"""The Live API side: the pure conversation state (``state``) under a thin SDK shell
(``session``). Only ``session`` and ``client`` import google-genai, and only when called."""
