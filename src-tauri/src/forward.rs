//! The event forwarder: the one task that follows the hub for the shell.
//!
//! It subscribes to the hub, then for every [`HubEvent`]: emits it to the webview as
//! `hub-event`, folds it into the tray's [`Model`] and repaints the tray when what it shows
//! changed, hands `Notice`s to `notify.rs`, and shows the dashboard on `FocusRequested`.
//! The tray menu and commands talk to it through [`ShellTx`], so the model has one owner.
//!
//! It logs nothing per event: every log record is itself an event here, and a log line per
//! event would feed itself.
//!
//! It never waits on the main (UI) thread: it runs on the runtime the hub shares, so a busy main
//! thread would stall hub work too. What to paint is decided here (pure); the repaint itself is
//! one task handed to the main thread, not waited for. Whether the dashboard is in view is read
//! from [`DashboardView`], kept from window events, not asked of the window; so is whether a
//! window exists at all (the dashboard is made on demand and released when hidden, window.rs):
//! without one, events are not emitted.

use crate::status::{self, Context, LookedAt, Model, TrayView};
use crate::tray::Tray;
use crate::{DashboardView, HUB_EVENT, Navigate, settings::SettingsStore, show_dashboard};
use exai_hub::api::HubEvent;
use exai_hub::{HubHandle, Subscription};
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime};
use tokio::sync::mpsc;

/// What the rest of the shell tells the forwarder.
#[derive(Debug)]
pub(crate) enum ShellMsg {
    /// The user looked at lost sessions.
    LookedAt(LookedAt),
    /// A setting the tray shows changed.
    SettingsChanged,
    /// A repaint failed on the main thread: what the tray shows is unknown.
    PaintFailed,
    /// The hub's settings changed (the daemon was configured): start again from a snapshot.
    Resync,
}

/// The forwarder's inbox, kept in the app's managed state.
#[derive(Clone)]
pub struct ShellTx(mpsc::UnboundedSender<ShellMsg>);

impl ShellTx {
    pub(crate) fn channel() -> (ShellTx, mpsc::UnboundedReceiver<ShellMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ShellTx(tx), rx)
    }

    /// The user looked at lost sessions (the tray turns from red when nothing else is wrong).
    pub fn looked_at(&self, what: LookedAt) {
        // After the forwarder stopped (the hub is gone) there is nothing to update.
        let _ = self.0.send(ShellMsg::LookedAt(what));
    }

    /// A setting the tray shows (notifications) changed.
    pub fn settings_changed(&self) {
        let _ = self.0.send(ShellMsg::SettingsChanged);
    }

    /// The daemon's settings were saved: the tray reads a fresh snapshot.
    pub fn resync(&self) {
        let _ = self.0.send(ShellMsg::Resync);
    }

    fn paint_failed(&self) {
        let _ = self.0.send(ShellMsg::PaintFailed);
    }
}

/// Follows the hub until it stops; `events` is the hub's subscription, taken by the caller.
pub(crate) async fn run<R: Runtime>(
    app: AppHandle<R>,
    hub: HubHandle,
    mut events: Subscription,
    mut inbox: mpsc::UnboundedReceiver<ShellMsg>,
    tray: Option<Tray<R>>,
) {
    // `events` was subscribed before this snapshot, so nothing falls between them.
    let mut model = Model::default();
    match hub.snapshot().await {
        Ok(snapshot) => model.reset(&snapshot),
        Err(err) => tracing::warn!(error = %format!("{err:#}"), "no first snapshot for the tray"),
    }
    let mut painter = Painter {
        tray,
        painted: None,
    };
    painter.paint(&app, &model);
    let mut emit_failed = false;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                // No window, no page to tell: a page made later starts from a snapshot.
                if app.state::<DashboardView>().exists()
                    && let Err(err) = app.emit(HUB_EVENT, &event)
                    && !std::mem::replace(&mut emit_failed, true)
                {
                    tracing::warn!(error = %err, "cannot send hub events to the dashboard");
                }
                let mut changed = model.apply(&event);
                match event {
                    HubEvent::Notice { notice } if app.state::<SettingsStore>().notifications() => {
                        crate::notify::show(notice);
                    }
                    HubEvent::FocusRequested { session } => {
                        tracing::info!(?session, "another EXAI tray asked to show the dashboard");
                        show_dashboard(&app, session.map_or(Navigate::Stay, Navigate::Session));
                    }
                    HubEvent::Lagged { .. } => {
                        if let Ok(snapshot) = hub.snapshot().await {
                            model.reset(&snapshot);
                            changed = true;
                        }
                    }
                    _ => {}
                }
                if changed {
                    if app.state::<DashboardView>().in_view() {
                        // The user is looking at the dashboard as it happens.
                        model.look_at(LookedAt::Everything);
                    }
                    painter.paint(&app, &model);
                }
            }
            message = inbox.recv() => match message {
                Some(ShellMsg::LookedAt(what)) => {
                    model.look_at(what);
                    painter.paint(&app, &model);
                }
                Some(ShellMsg::SettingsChanged) => {
                    // Force the repaint: a check item toggles itself on click.
                    painter.painted = None;
                    painter.paint(&app, &model);
                }
                Some(ShellMsg::Resync) => {
                    if let Ok(snapshot) = hub.snapshot().await {
                        model.reset(&snapshot);
                        painter.paint(&app, &model);
                    }
                }
                Some(ShellMsg::PaintFailed) => {
                    // The next change repaints whatever it is (not at once: a failure that
                    // persists would loop).
                    painter.painted = None;
                }
                None => break,
            },
        }
    }
}

/// Repaints the tray only when the view changed (request and log events change nothing).
struct Painter<R: Runtime> {
    tray: Option<Tray<R>>,
    /// The view last handed to the main thread (`None`: unknown, paint the next one).
    painted: Option<TrayView>,
}

impl<R: Runtime> Painter<R> {
    fn paint(&mut self, app: &AppHandle<R>, model: &Model) {
        let Some(tray) = &self.tray else { return };
        let context = Context {
            notifications: app.state::<SettingsStore>().notifications(),
        };
        let view = status::view(model, context);
        let Some(announce) = repaint(self.painted.as_ref(), &view) else {
            return;
        };
        self.painted = Some(view.clone());
        let tray = tray.clone();
        let shell = app.state::<ShellTx>().inner().clone();
        // The whole repaint is one task on the main thread, where Tauri's tray and menu calls
        // run directly; from here each of them would wait for a round trip. Tasks run in the
        // order they were queued, so repaints do not overtake each other.
        let queued = app.run_on_main_thread(move || match tray.paint(&view) {
            Ok(()) => {
                if announce {
                    tracing::info!(colour = ?view.colour, tooltip = %view.tooltip, "tray updated");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot update the tray");
                shell.paint_failed();
            }
        });
        if let Err(err) = queued {
            tracing::warn!(error = %err, "cannot update the tray");
            self.painted = None;
        }
    }
}

/// Whether `view` needs painting after `painted`: `None` when it is the same, else whether the
/// repaint is announced in the log. One line per change of what the icon says (never per event):
/// tests and bug reports can tell what the user saw, and when.
fn repaint(painted: Option<&TrayView>, view: &TrayView) -> Option<bool> {
    if painted == Some(view) {
        return None;
    }
    let said = |view: &TrayView| (view.colour, view.tooltip.clone());
    Some(painted.map(said) != Some(said(view)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Colour;

    fn view(colour: Colour, tooltip: &str, header: &str) -> TrayView {
        TrayView {
            colour,
            tooltip: tooltip.to_owned(),
            header: header.to_owned(),
            sessions: Vec::new(),
            notifications: true,
        }
    }

    #[test]
    fn only_changed_views_are_painted_and_only_what_the_icon_says_is_announced() {
        let grey = view(Colour::Grey, "EXAI: starting", "EXAI: starting");
        assert_eq!(repaint(None, &grey), Some(true), "the first paint");
        assert_eq!(repaint(Some(&grey), &grey), None, "nothing changed");
        let quiet = TrayView {
            notifications: false,
            ..grey.clone()
        };
        assert_eq!(repaint(Some(&grey), &quiet), Some(false), "only the menu");
        let header = view(Colour::Grey, "EXAI: starting", "Daemon: connecting");
        assert_eq!(repaint(Some(&grey), &header), Some(false), "only the menu");
        let green = view(Colour::Green, "EXAI: no windows", "Daemon: connected");
        assert_eq!(repaint(Some(&grey), &green), Some(true));
        let tooltip = view(Colour::Green, "EXAI: 1 window", "Daemon: connected");
        assert_eq!(repaint(Some(&green), &tooltip), Some(true));
    }
}
