"""A window that fills the (virtual) screen with one colour, for the screen-sharing tests.

    DISPLAY=:N python tests/screen_window.py COLOUR [CONTROL_FILE]

Tk, borderless, at 0,0 the size of the screen. If CONTROL_FILE is given, the window takes
the colour written to it (polled 10 times a second), so a test can change what is shown.
"""

from __future__ import annotations

import sys
import tkinter as tk
from pathlib import Path


def main() -> None:
    colour = sys.argv[1]
    control = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    root = tk.Tk()
    root.overrideredirect(True)
    root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
    root.configure(background="black" if colour == "ramp" else colour)

    level = 0

    def poll() -> None:  # "ramp": a grey that changes every 100 ms (no two seconds alike)
        nonlocal level
        if control is not None and control.exists():
            wanted = control.read_text().strip()
            if wanted == "ramp":
                level = (level + 9) % 256
                wanted = f"#{level:02x}{level:02x}{level:02x}"
            if wanted and wanted != root.cget("background"):
                root.configure(background=wanted)
        root.after(100, poll)

    poll()
    print("ready", flush=True)
    root.mainloop()


if __name__ == "__main__":
    main()
