"""voicecli: talk to the Gemini Live API from a terminal."""

__version__ = "0.1.0"
