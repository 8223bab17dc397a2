//! The tray icon's menu as `com.canonical.dbusmenu` serves it to a StatusNotifier host: the
//! lines of [`menu::entries`] under stable numeric ids, a layout without submenus, and clicks
//! passed on as [`Click`]s. Served by `sni.rs` at `/MenuBar`.

use crate::menu::{self, MenuEntry, MenuId};
use crate::sni::Click;
use crate::status::TrayView;
use exai_proto::SessionId;
use std::collections::HashMap;
use tokio::sync::mpsc;
use zbus::interface;
use zbus::object_server::SignalEmitter;
use zbus::{Structure, Variant as Value};

/// A menu line as dbusmenu names its properties.
type Props = HashMap<String, Value<'static>>;

/// The menu: the entries of the last paint under stable numeric ids.
pub(crate) struct Menu {
    revision: u32,
    entries: Vec<(i32, MenuEntry)>,
    ids: MenuIds,
    clicks: mpsc::UnboundedSender<Click>,
}

/// Numeric dbusmenu ids for [`MenuId`]s: fixed for the fixed lines, one per session for as
/// long as the tray runs, so a click on a menu a host drew before a repaint still means the
/// line it showed.
#[derive(Default)]
struct MenuIds {
    sessions: HashMap<SessionId, i32>,
    next_session: i32,
    /// Separators and information lines, numbered per paint above the sessions' range.
    next_other: i32,
}

/// The first id a session's line gets; information lines and separators count from
/// [`OTHER_BASE`] each paint.
const SESSION_BASE: i32 = 1_000;
pub(crate) const OTHER_BASE: i32 = 100;

impl MenuIds {
    fn start_paint(&mut self) {
        self.next_other = OTHER_BASE;
    }

    fn other(&mut self) -> i32 {
        self.next_other += 1;
        self.next_other
    }

    fn of(&mut self, id: MenuId) -> i32 {
        match id {
            MenuId::Header => self.other(),
            MenuId::OpenDashboard => 1,
            MenuId::OpenInBrowser => 2,
            MenuId::Reconnect => 3,
            MenuId::Connect => 4,
            MenuId::OpenLogs => 5,
            MenuId::Notifications => 6,
            MenuId::Quit => 7,
            MenuId::Session(session) => *self.sessions.entry(session).or_insert_with(|| {
                self.next_session += 1;
                SESSION_BASE + self.next_session
            }),
        }
    }
}

impl Menu {
    /// A menu that says only `starting`, its clicks going to `clicks`.
    pub(crate) fn starting(clicks: mpsc::UnboundedSender<Click>) -> Menu {
        Menu {
            revision: 0,
            entries: vec![(
                OTHER_BASE,
                MenuEntry::Item {
                    id: MenuId::Header,
                    label: "EXAI: starting".to_owned(),
                    enabled: false,
                },
            )],
            ids: MenuIds::default(),
            clicks,
        }
    }

    /// The revision of the layout last set.
    pub(crate) fn revision(&self) -> u32 {
        self.revision
    }

    /// Lists `view`'s lines (a new revision).
    pub(crate) fn set(&mut self, view: &TrayView) {
        self.ids.start_paint();
        let entries = menu::entries(view);
        self.entries = entries
            .into_iter()
            .map(|entry| {
                let id = match &entry {
                    MenuEntry::Item { id, .. } | MenuEntry::Check { id, .. } => self.ids.of(*id),
                    MenuEntry::Separator => self.ids.other(),
                };
                (id, entry)
            })
            .collect();
        self.revision += 1;
    }

    fn props(entry: &MenuEntry) -> Props {
        let mut props = Props::new();
        match entry {
            MenuEntry::Item { label, enabled, .. } => {
                props.insert("label".to_owned(), Value::from(label.clone()));
                props.insert("enabled".to_owned(), Value::from(*enabled));
            }
            MenuEntry::Check { label, checked, .. } => {
                props.insert("label".to_owned(), Value::from(label.clone()));
                props.insert("toggle-type".to_owned(), Value::from("checkmark"));
                props.insert("toggle-state".to_owned(), Value::from(i32::from(*checked)));
            }
            MenuEntry::Separator => {
                props.insert("type".to_owned(), Value::from("separator"));
            }
        }
        props
    }

    fn root_props() -> Props {
        let mut props = Props::new();
        props.insert("children-display".to_owned(), Value::from("submenu"));
        props
    }

    fn node(id: i32, props: Props) -> Value<'static> {
        Value::from(Structure::from((id, props, Vec::<Value<'static>>::new())))
    }

    fn find(&self, id: i32) -> Option<&MenuEntry> {
        self.entries
            .iter()
            .find(|(entry_id, _)| *entry_id == id)
            .map(|(_, entry)| entry)
    }

    fn click(&self, id: i32) {
        match self.find(id) {
            Some(MenuEntry::Item {
                id, enabled: true, ..
            })
            | Some(MenuEntry::Check { id, .. }) => {
                let _ = self.clicks.send(Click::Menu(*id));
            }
            _ => tracing::debug!(id, "click on a menu line that does nothing"),
        }
    }
}

#[interface(name = "com.canonical.dbusmenu")]
impl Menu {
    #[zbus(out_args("revision", "layout"))]
    fn get_layout(
        &self,
        parent_id: i32,
        _recursion_depth: i32,
        _property_names: Vec<String>,
    ) -> (u32, (i32, Props, Vec<Value<'static>>)) {
        if parent_id != 0 {
            // Our lines have no submenus.
            let props = self.find(parent_id).map(Menu::props).unwrap_or_default();
            return (self.revision, (parent_id, props, Vec::new()));
        }
        let children = self
            .entries
            .iter()
            .map(|(id, entry)| Menu::node(*id, Menu::props(entry)))
            .collect();
        (self.revision, (0, Menu::root_props(), children))
    }

    fn get_group_properties(
        &self,
        ids: Vec<i32>,
        _property_names: Vec<String>,
    ) -> Vec<(i32, Props)> {
        ids.into_iter()
            .filter_map(|id| {
                if id == 0 {
                    return Some((0, Menu::root_props()));
                }
                self.find(id).map(|entry| (id, Menu::props(entry)))
            })
            .collect()
    }

    fn get_property(&self, id: i32, name: String) -> zbus::fdo::Result<Value<'static>> {
        let props = if id == 0 {
            Menu::root_props()
        } else {
            self.find(id)
                .map(Menu::props)
                .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no menu item {id}")))?
        };
        props
            .get(&name)
            .cloned()
            .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no property {name}")))
    }

    fn event(&self, id: i32, event_id: String, _data: Value<'_>, _timestamp: u32) {
        if event_id == "clicked" {
            self.click(id);
        }
    }

    fn event_group(&self, events: Vec<(i32, String, Value<'_>, u32)>) -> Vec<i32> {
        let mut unknown = Vec::new();
        for (id, event_id, _, _) in events {
            if self.find(id).is_none() {
                unknown.push(id);
            } else if event_id == "clicked" {
                self.click(id);
            }
        }
        unknown
    }

    fn about_to_show(&self, _id: i32) -> bool {
        false
    }

    fn about_to_show_group(&self, _ids: Vec<i32>) -> (Vec<i32>, Vec<i32>) {
        (Vec::new(), Vec::new())
    }

    #[zbus(signal)]
    pub(crate) async fn layout_updated(
        emitter: &SignalEmitter<'_>,
        revision: u32,
        parent: i32,
    ) -> zbus::Result<()>;

    #[zbus(property)]
    fn version(&self) -> u32 {
        3
    }

    #[zbus(property)]
    fn text_direction(&self) -> &str {
        "ltr"
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "normal"
    }

    #[zbus(property)]
    fn icon_theme_path(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Colour;

    #[test]
    fn fixed_lines_keep_their_ids_and_each_session_keeps_its_own() {
        let mut ids = MenuIds::default();
        ids.start_paint();
        assert_eq!(ids.of(MenuId::OpenDashboard), 1);
        assert_eq!(ids.of(MenuId::Quit), 7);
        let first = ids.of(MenuId::Session(SessionId(5)));
        let second = ids.of(MenuId::Session(SessionId(9)));
        assert_ne!(first, second);
        ids.start_paint();
        assert_eq!(ids.of(MenuId::Session(SessionId(9))), second);
        assert_eq!(ids.of(MenuId::Session(SessionId(5))), first);
        let header = ids.of(MenuId::Header);
        assert!((OTHER_BASE..SESSION_BASE).contains(&header), "{header}");
    }

    #[test]
    fn a_click_on_an_enabled_line_or_a_check_item_is_passed_on_and_others_are_not() {
        let (clicks, mut received) = mpsc::unbounded_channel();
        let mut menu = Menu {
            revision: 0,
            entries: Vec::new(),
            ids: MenuIds::default(),
            clicks,
        };
        menu.set(&TrayView {
            colour: Colour::Grey,
            tooltip: "EXAI: no windows".to_owned(),
            header: "Daemon: connected".to_owned(),
            sessions: Vec::new(),
            notifications: false,
        });
        assert_eq!(menu.revision, 1);
        let header = menu.entries[0].0;
        menu.click(header);
        menu.click(6);
        menu.click(7);
        assert_eq!(received.try_recv(), Ok(Click::Menu(MenuId::Notifications)));
        assert_eq!(received.try_recv(), Ok(Click::Menu(MenuId::Quit)));
        assert!(received.try_recv().is_err(), "the header does nothing");
        assert_eq!(
            Menu::props(menu.find(6).expect("notifications"))
                .get("toggle-state")
                .cloned(),
            Some(Value::from(0_i32))
        );
    }
}
