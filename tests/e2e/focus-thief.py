#!/usr/bin/python3
# Another application taking the keyboard focus on the suite's X display (there is no window
# manager under Xvfb to do it): the desk window is then "not in front". Prints "focused".
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


GLib.timeout_add(300, grab)
Gtk.main()
