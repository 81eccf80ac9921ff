//! The control plane's shared parts, built once at start and handed to every
//! listener and task.

use std::path::PathBuf;
use std::sync::Arc;

use claudeops_pki::{Ca, RevocationSet};
use claudeops_web_ui::Ui;

use crate::http::auth::Auth;
use crate::sessions::Sessions;

pub struct App {
    pub sessions: Sessions,
    pub auth: Auth,
    pub ui: Ui,
    pub ca: Arc<Ca>,
    pub revocations: Arc<RevocationSet>,
    /// Where the generated API token is kept, if it was generated.
    pub token_path: Option<PathBuf>,
}

pub type AppState = Arc<App>;
