#!/usr/bin/env python3
"""A tiny freedesktop notification server for the desktop test.

Owns `org.freedesktop.Notifications` on the session bus and implements the four methods a
client calls (Notify, GetCapabilities, GetServerInformation, CloseNotification). Each Notify is
printed as one JSON line on stdout: {"app_name", "replaces_id", "app_icon", "summary", "body",
"actions", "hints", "expire_timeout", "id"}. Before any Notify, it prints `{"ready": true}`
once it owns the name, so the test can wait for that line instead of sleeping.

Only python3-gi (GLib's Gio over GObject introspection) is needed: no python3-dbus.
It exits when it loses the name, when stdin closes (the test went away) or on SIGTERM.
"""

import json
import signal
import sys

from gi.repository import Gio, GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" name="app_name" direction="in"/>
      <arg type="u" name="replaces_id" direction="in"/>
      <arg type="s" name="app_icon" direction="in"/>
      <arg type="s" name="summary" direction="in"/>
      <arg type="s" name="body" direction="in"/>
      <arg type="as" name="actions" direction="in"/>
      <arg type="a{sv}" name="hints" direction="in"/>
      <arg type="i" name="expire_timeout" direction="in"/>
      <arg type="u" name="id" direction="out"/>
    </method>
    <method name="GetCapabilities">
      <arg type="as" name="capabilities" direction="out"/>
    </method>
    <method name="GetServerInformation">
      <arg type="s" name="name" direction="out"/>
      <arg type="s" name="vendor" direction="out"/>
      <arg type="s" name="version" direction="out"/>
      <arg type="s" name="spec_version" direction="out"/>
    </method>
    <method name="CloseNotification">
      <arg type="u" name="id" direction="in"/>
    </method>
    <signal name="NotificationClosed">
      <arg type="u" name="id"/>
      <arg type="u" name="reason"/>
    </signal>
    <signal name="ActionInvoked">
      <arg type="u" name="id"/>
      <arg type="s" name="action_key"/>
    </signal>
  </interface>
</node>
"""


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def plain(value):
    """A hint's value as JSON (bytes and other odd types as their string form)."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


class Server:
    def __init__(self, loop):
        self.loop = loop
        self.next_id = 1
        self.exit_code = 0

    def on_call(self, connection, sender, path, interface, method, params, invocation):
        if method == "Notify":
            (app_name, replaces_id, app_icon, summary, body, actions, hints, expire) = params.unpack()
            notification_id = replaces_id or self.next_id
            if not replaces_id:
                self.next_id += 1
            emit({
                "app_name": app_name,
                "replaces_id": replaces_id,
                "app_icon": app_icon,
                "summary": summary,
                "body": body,
                "actions": actions,
                "hints": {key: plain(value) for key, value in hints.items()},
                "expire_timeout": expire,
                "id": notification_id,
                "sender": sender,
            })
            invocation.return_value(GLib.Variant("(u)", (notification_id,)))
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["body", "actions"],)))
        elif method == "GetServerInformation":
            invocation.return_value(GLib.Variant("(ssss)", ("exai-test-notifyd", "exai", "0", "1.2")))
        elif method == "CloseNotification":
            (notification_id,) = params.unpack()
            connection.emit_signal(None, PATH, NAME, "NotificationClosed",
                                   GLib.Variant("(uu)", (notification_id, 3)))
            invocation.return_value(None)
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)

    def on_bus(self, connection, name):
        info = Gio.DBusNodeInfo.new_for_xml(INTERFACE_XML).interfaces[0]
        connection.register_object(PATH, info, self.on_call, None, None)

    def on_name_acquired(self, connection, name):
        emit({"ready": True, "name": name})

    def on_name_lost(self, connection, name):
        sys.stderr.write(f"notifyd: cannot own (or lost) {name}: is another notification server running?\n")
        self.exit_code = 1
        self.loop.quit()


def main():
    loop = GLib.MainLoop()
    server = Server(loop)
    Gio.bus_own_name(Gio.BusType.SESSION, NAME, Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
                     server.on_bus, server.on_name_acquired, server.on_name_lost)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)

    def on_stdin(channel, condition):
        loop.quit()
        return False

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                      GLib.PRIORITY_DEFAULT, GLib.IOCondition.HUP | GLib.IOCondition.IN, on_stdin)
    loop.run()
    return server.exit_code


if __name__ == "__main__":
    sys.exit(main())
