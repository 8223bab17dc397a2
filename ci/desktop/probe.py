#!/usr/bin/env python3
"""Looks at the running tray app the way a desktop does, for the desktop test.

Two views, both over D-Bus, neither by pixels:
  tray  PID          the tray icon that process PID registered with the StatusNotifier
                     watcher: its StatusNotifierItem properties and its menu (dbusmenu layout)
  tray-click PID LABEL
                     clicks the menu item labelled LABEL, as a panel does (dbusmenu Event); a
                     LABEL ending in * matches by prefix
  page  PID          the accessibility tree (AT-SPI) of process PID's windows, which includes
                     the dashboard's rendered DOM as WebKitGTK exposes it
  page-action PID ROLE NAME
                     runs the default action of the first node with that role and name (a link
                     is followed, a button pressed), as a screen reader would; a NAME ending
                     in * matches by prefix

  page-fill PID ROLE NAME TEXT
                     types TEXT into the first node with that role and name (an input, found by
                     its label) in place of what it holds, as a keyboard does
And two X11 requests, as a window manager makes them:
  close-window XID   sends WM_DELETE_WINDOW to the X11 window XID (the app decides what closing
                     means: the tray hides its dashboard)
  resize-window XID WIDTH HEIGHT
                     moves the X11 window XID to the screen's corner and resizes it (there is
                     no window manager under Xvfb)

Each prints one JSON document on stdout; a failure prints the reason on stderr and exits 1.
Needs python3-gi with GLib's Gio (always) and gir1.2-atspi-2.0 (for page and page-action).
"""

import json
import sys

from gi.repository import Gio, GLib

WATCHER = "org.kde.StatusNotifierWatcher"
SNI = "org.kde.StatusNotifierItem"
DBUSMENU = "com.canonical.dbusmenu"
PROPERTIES = "org.freedesktop.DBus.Properties"
# A node's children beyond this are cut (the log view can hold a thousand lines).
MAX_CHILDREN = 300
MAX_DEPTH = 64


class Failure(Exception):
    pass


def call(bus, name, path, interface, method, args=None, reply=None, timeout_ms=5000):
    try:
        result = bus.call_sync(name, path, interface, method, args,
                               GLib.VariantType(reply) if reply else None,
                               Gio.DBusCallFlags.NONE, timeout_ms, None)
    except GLib.Error as error:
        raise Failure(f"{interface}.{method} on {name} {path}: {error.message}") from None
    return result.unpack() if result is not None else None


def bus_pid(bus, name):
    (pid,) = call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                  "GetConnectionUnixProcessID", GLib.Variant("(s)", (name,)), "(u)")
    return pid


def find_sni_path(bus, name, path="/"):
    """The first object under `path` on `name` that implements StatusNotifierItem."""
    (xml,) = call(bus, name, path, "org.freedesktop.DBus.Introspectable", "Introspect", None, "(s)")
    node = Gio.DBusNodeInfo.new_for_xml(xml)
    if any(interface.name == SNI for interface in node.interfaces):
        return path
    for child in node.nodes:
        child_path = path.rstrip("/") + "/" + child.path
        found = find_sni_path(bus, name, child_path)
        if found:
            return found
    return None


def menu_items(layout):
    """Flattens a dbusmenu layout `(id, props, children)` into a list of items."""
    (item_id, props, children) = layout
    items = []
    for child in children:
        (child_id, child_props, grandchildren) = child
        items.append({
            "id": child_id,
            "label": child_props.get("label", ""),
            "enabled": child_props.get("enabled", True),
            "visible": child_props.get("visible", True),
            "type": child_props.get("type", "standard"),
            "toggle_state": child_props.get("toggle-state"),
        })
        items.extend(menu_items(child))
    return items


def tray(pid):
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    (registered,) = call(bus, WATCHER, "/StatusNotifierWatcher", PROPERTIES, "Get",
                         GLib.Variant("(ss)", (WATCHER, "RegisteredStatusNotifierItems")), "(v)")
    owners = []
    for entry in registered:
        # An entry is a bus name, or a bus name followed by the item's object path.
        name, slash, rest = entry.partition("/")
        owner_pid = bus_pid(bus, name)
        owners.append(f"{entry} (pid {owner_pid})")
        if owner_pid != pid:
            continue
        path = "/" + rest if slash else find_sni_path(bus, name)
        if path is None:
            raise Failure(f"{entry} is registered but exports no {SNI}")
        (props,) = call(bus, name, path, PROPERTIES, "GetAll", GLib.Variant("(s)", (SNI,)), "(a{sv})")
        menu_path = props.get("Menu")
        menu = []
        if menu_path:
            (_revision, layout) = call(bus, name, menu_path, DBUSMENU, "GetLayout",
                                       GLib.Variant("(iias)", (0, -1, [])), "(u(ia{sv}av))")
            menu = menu_items(layout)
        return {"entry": entry, "service": name, "path": path, "pid": owner_pid,
                "props": {key: value for key, value in props.items()}, "menu": menu}
    raise Failure(f"no tray item of pid {pid} among the registered items {owners}")


def tray_click(pid, label):
    found = tray(pid)
    matches = [item for item in found["menu"] if name_matches(item["label"], label)]
    if not matches:
        labels = [item["label"] for item in found["menu"] if item["label"]]
        raise Failure(f"no menu item labelled {label!r}; the menu has {labels}")
    item = matches[0]
    if not item["enabled"]:
        raise Failure(f"the menu item {label!r} is disabled")
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    call(bus, found["service"], found["props"]["Menu"], DBUSMENU, "Event",
         GLib.Variant("(isvu)", (item["id"], "clicked", GLib.Variant("i", 0), 0)))
    return {"clicked": item}


def atspi():
    import gi
    gi.require_version("Atspi", "2.0")
    from gi.repository import Atspi
    return Atspi


def application(Atspi, pid):
    desktop = Atspi.get_desktop(0)
    seen = []
    for index in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(index)
        if app is None:
            continue
        try:
            app_pid = app.get_process_id()
        except GLib.Error:
            continue
        seen.append(f"{app.get_name()} (pid {app_pid})")
        if app_pid == pid:
            return app
    raise Failure(f"no accessible application of pid {pid}; the desktop has {seen}")


def node_json(Atspi, node, depth=0):
    try:
        role = node.get_role_name()
        name = node.get_name() or ""
    except GLib.Error as error:
        return {"role": "error", "name": error.message, "text": "", "children": []}
    text = ""
    if "Text" in node.get_interfaces():
        try:
            text = Atspi.Text.get_text(node, 0, Atspi.Text.get_character_count(node))
        except GLib.Error:
            text = ""
    children = []
    if depth < MAX_DEPTH:
        count = min(node.get_child_count(), MAX_CHILDREN)
        for index in range(count):
            child = node.get_child_at_index(index)
            if child is not None:
                children.append(node_json(Atspi, child, depth + 1))
    states = node.get_state_set()
    return {
        "role": role,
        "name": name,
        "text": text,
        "showing": states.contains(Atspi.StateType.SHOWING),
        "children": children,
    }


def name_matches(actual, wanted):
    """`wanted` is the exact name, or a prefix when it ends with `*` ("Sessions*" also matches
    "Sessions 1", the link with its badge)."""
    if wanted.endswith("*"):
        return actual.startswith(wanted[:-1])
    return actual == wanted


def find_node(Atspi, node, role, name):
    try:
        if node.get_role_name() == role and name_matches(node.get_name() or "", name):
            return node
    except GLib.Error:
        return None
    for index in range(min(node.get_child_count(), MAX_CHILDREN)):
        child = node.get_child_at_index(index)
        if child is not None:
            found = find_node(Atspi, child, role, name)
            if found is not None:
                return found
    return None


def page(pid):
    Atspi = atspi()
    return node_json(Atspi, application(Atspi, pid))


def page_action(pid, role, name):
    Atspi = atspi()
    node = find_node(Atspi, application(Atspi, pid), role, name)
    if node is None:
        raise Failure(f"no {role} named {name!r} in the accessibility tree of pid {pid}")
    if "Action" not in node.get_interfaces() or Atspi.Action.get_n_actions(node) == 0:
        raise Failure(f"the {role} named {name!r} offers no action")
    action_name = Atspi.Action.get_action_name(node, 0)
    if not Atspi.Action.do_action(node, 0):
        raise Failure(f"the {role} named {name!r} refused its {action_name!r} action")
    return {"done": action_name, "role": role, "name": name}


def page_fill(pid, role, name, text):
    """Types `text` into the node in place of what it holds, as a keyboard does (WebKit's AT-SPI
    has no EditableText): finds it on screen over AT-SPI, then clicks it, presses End and
    BackSpace, and types with XTest (keys go to the window under the pointer: there is no
    window manager to give the keyboard focus)."""
    import ctypes
    import time

    Atspi = atspi()
    node = find_node(Atspi, application(Atspi, pid), role, name)
    if node is None:
        raise Failure(f"no {role} named {name!r} in the accessibility tree of pid {pid}")
    if "Component" not in node.get_interfaces():
        raise Failure(f"the {role} named {name!r} has no place on screen")
    box = Atspi.Component.get_extents(node, Atspi.CoordType.SCREEN)
    old = Atspi.Text.get_character_count(node) if "Text" in node.get_interfaces() else 0

    x11 = x11_library()
    xtst = ctypes.cdll.LoadLibrary("libXtst.so.6")
    xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x11.XKeysymToKeycode.restype = ctypes.c_ubyte
    x11.XkbKeycodeToKeysym.argtypes = [ctypes.c_void_p, ctypes.c_ubyte, ctypes.c_int, ctypes.c_int]
    x11.XkbKeycodeToKeysym.restype = ctypes.c_ulong
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    display = x11.XOpenDisplay(None)
    if not display:
        raise Failure("cannot open the X display")

    def key(keysym):
        code = x11.XKeysymToKeycode(display, keysym)
        if code == 0:
            raise Failure(f"no key for keysym {keysym:#x}")
        shift = x11.XkbKeycodeToKeysym(display, code, 0, 0) != keysym
        shift_code = x11.XKeysymToKeycode(display, 0xffe1)  # Shift_L
        if shift:
            xtst.XTestFakeKeyEvent(display, shift_code, 1, 0)
        xtst.XTestFakeKeyEvent(display, code, 1, 0)
        xtst.XTestFakeKeyEvent(display, code, 0, 0)
        if shift:
            xtst.XTestFakeKeyEvent(display, shift_code, 0, 0)

    try:
        xtst.XTestFakeMotionEvent(display, -1, box.x + box.width // 2, box.y + box.height // 2, 0)
        xtst.XTestFakeButtonEvent(display, 1, 1, 0)
        xtst.XTestFakeButtonEvent(display, 1, 0, 0)
        x11.XSync(display, 0)
        deadline = time.monotonic() + 5
        while not node.get_state_set().contains(Atspi.StateType.FOCUSED):
            if time.monotonic() > deadline:
                raise Failure(f"the {role} named {name!r} did not take the focus on a click")
            time.sleep(0.05)
        key(0xff57)  # End
        for _ in range(old):
            key(0xff08)  # BackSpace
        for char in text:
            if not (" " <= char <= "~"):
                raise Failure(f"only printable ASCII can be typed, not {char!r}")
            key(ord(char))  # printable ASCII keysyms are the characters' codes
        x11.XSync(display, 0)
    finally:
        x11.XCloseDisplay(display)
    return {"filled": role, "name": name, "length": len(text)}


def x11_library():
    import ctypes
    import ctypes.util

    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return x11


def resize_window(xid, width, height):
    import ctypes

    x11 = x11_library()
    x11.XMoveResizeWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_uint, ctypes.c_uint]
    display = x11.XOpenDisplay(None)
    if not display:
        raise Failure("cannot open the X display")
    try:
        # At the screen's corner, so a window as wide as the screen fits on it.
        x11.XMoveResizeWindow(display, xid, 0, 0, width, height)
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)
    return {"resized": hex(xid), "width": width, "height": height}


def close_window(xid):
    """Sends the ICCCM WM_DELETE_WINDOW client message to `xid` with libX11 (no WM needed)."""
    import ctypes

    x11 = x11_library()
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                    ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                    ("data", ctypes.c_long * 5)]

    class Event(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(Event)]
    display = x11.XOpenDisplay(None)
    if not display:
        raise Failure("cannot open the X display")
    try:
        event = Event()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = xid
        event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        if not x11.XSendEvent(display, xid, 0, 0, ctypes.byref(event)):
            raise Failure(f"XSendEvent to window {xid:#x} failed")
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)
    return {"sent": "WM_DELETE_WINDOW", "window": hex(xid)}


def main(argv):
    commands = {
        "tray": (1, lambda args: tray(int(args[0]))),
        "tray-click": (2, lambda args: tray_click(int(args[0]), args[1])),
        "page": (1, lambda args: page(int(args[0]))),
        "page-action": (3, lambda args: page_action(int(args[0]), args[1], args[2])),
        "page-fill": (4, lambda args: page_fill(int(args[0]), args[1], args[2], args[3])),
        "close-window": (1, lambda args: close_window(int(args[0], 0))),
        "resize-window": (3, lambda args: resize_window(int(args[0], 0), int(args[1]), int(args[2]))),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][0]:
        sys.stderr.write(__doc__)
        return 2
    try:
        result = commands[argv[1]][1](argv[2:])
    except Failure as failure:
        sys.stderr.write(f"probe: {failure}\n")
        return 1
    json.dump(result, sys.stdout, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
