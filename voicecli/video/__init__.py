"""Screen and camera sharing: frames captured off the event loop, sent as JPEG at ~1 fps.

The pure core (:mod:`voicecli.video.frames`) decides which frames go out; the shell
(:mod:`voicecli.video.capture`, :mod:`voicecli.video.sharer`) grabs, scales and encodes them.
The capture libraries are the optional extra ``voicecli[video]`` (mss, PyAV, Pillow).
"""
