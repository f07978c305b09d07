#!/usr/bin/python3
# A stand-in desktop notification server for the desktop suites (D-Bus activated on their private
# session bus): implements org.freedesktop.Notifications, appends every notification to the log
# file given as its argument (one JSON line each), and, like a user clicking it, invokes its
# "default" action 1.5 s later when it offers one.
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

LOG = sys.argv[1]
IFACE = "org.freedesktop.Notifications"


class Server(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.last = 0

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        self.last += 1
        nid = self.last
        actions = [str(a) for a in actions]
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": nid, "app": str(app), "summary": str(summary),
                                "body": str(body), "actions": actions}) + "\n")
        if "default" in actions[::2]:
            GLib.timeout_add(1500, self.click, nid)
        return dbus.UInt32(nid)

    def click(self, nid):
        self.ActionInvoked(dbus.UInt32(nid), "default")
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"clicked": nid}) + "\n")
        return False

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(IFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("kyc-e2e-notifyd", "kyc-desk", "1", "1.2")

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, dbus.UInt32(3))

    @dbus.service.signal(IFACE, signature="us")
    def ActionInvoked(self, nid, key):
        pass

    @dbus.service.signal(IFACE, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass


DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
name = dbus.service.BusName(IFACE, bus)
Server(bus)
GLib.MainLoop().run()
