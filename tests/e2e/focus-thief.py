#!/usr/bin/python3
# Another application taking the keyboard focus on the suite's X display (there is no window
# manager under Xvfb to do it): the desk window is then "not in front". Prints "focused". On
# SIGTERM it hands the focus back to whatever window is under the pointer (the desk) and exits,
# as a window manager would when the other application closes.
import ctypes
import signal

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

window = Gtk.Window(title="another application")
window.set_default_size(240, 120)
window.move(1600, 900)
window.show_all()


def grab():
    window.get_window().focus(Gdk.CURRENT_TIME)
    print("focused", flush=True)
    return False


def release():
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    display = x11.XOpenDisplay(None)
    if display:
        pointer_root = 1
        x11.XSetInputFocus(ctypes.c_void_p(display), ctypes.c_ulong(pointer_root), pointer_root, 0)
        x11.XSync(ctypes.c_void_p(display), 0)
        x11.XCloseDisplay(ctypes.c_void_p(display))
    Gtk.main_quit()
    return False


GLib.timeout_add(300, grab)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, release)
Gtk.main()
