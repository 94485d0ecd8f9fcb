"""Test support for voicecli's tests and benchmarks (not used by voicecli itself).

- :mod:`voicecli_testing.audio`: the virtual sound card of ``scripts/virtual-audio.sh``
  (start it, play into its microphone, record its speaker, compare signals);
- :mod:`voicecli_testing.cli`: run the real ``voicecli`` program against an emulator.

Installed with the project (``pip install -e '.[test]'``), so tests and benchmarks import
it like any module, with no ``sys.path`` edits.
"""
