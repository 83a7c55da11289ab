//! The page's components, one concern each; state lives in [`AppState`](super::state::AppState).

pub mod canvas;
pub mod chart;
pub mod data;
pub mod draw;
pub mod finetune;
pub mod generate;
pub mod latent;
pub mod models;
pub mod search;
pub mod spec_editor;
pub mod train;
