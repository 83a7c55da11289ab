//! Terminal progress for training: a bar per epoch (batches, loss, images/s) and a summary line,
//! and the process's resident memory after each epoch (so a leak shows as a rising column).

use std::cell::RefCell;
use std::rc::Rc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::training::{Control, EpochRecord, Hooks, NamedLoss, Progress};

/// `loss 0.12345`, or every named loss of a multi-loss run (`d 0.69 g 0.70`).
fn losses(loss: f64, named: &[NamedLoss]) -> String {
    if named.is_empty() {
        return format!("loss {loss:.5}");
    }
    let parts: Vec<String> = named
        .iter()
        .map(|l| format!("{} {:.4}", l.name, l.value))
        .collect();
    parts.join(" ")
}

/// The process's resident memory in MB (Linux's /proc/self/status; None elsewhere).
pub fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resident memory (MB) after each epoch, shared between the hooks (moved into the run) and
/// the command that writes metrics.json.
#[derive(Clone, Default)]
pub struct MemoryLog(Rc<RefCell<Vec<f64>>>);

impl MemoryLog {
    pub fn values(&self) -> Vec<f64> {
        self.0.borrow().clone()
    }
}

/// Shows training progress in the terminal (or nothing when `quiet`).
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    memory: MemoryLog,
}

impl TerminalProgress {
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: None,
            quiet,
            memory: MemoryLog::default(),
        }
    }

    /// A handle on the resident memory this progress records after each epoch.
    pub fn memory(&self) -> MemoryLog {
        self.memory.clone()
    }

    fn bar(&mut self, p: &Progress) -> &ProgressBar {
        self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(p.batches as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30.cyan/blue}] {pos}/{len} batches  {msg}  eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("epoch {:>3}/{}", p.epoch, p.epochs));
            bar
        })
    }
}

impl<M> Hooks<M> for TerminalProgress {
    async fn on_progress(&mut self, p: &Progress) -> Control {
        if !self.quiet {
            let bar = self.bar(p);
            bar.set_position(p.batch as u64);
            bar.set_message(format!(
                "{}  {:>6.0} img/s",
                losses(p.train_loss, &p.losses),
                p.images_per_s
            ));
        }
        Control::Continue
    }

    async fn on_epoch(&mut self, _model: &M, r: &EpochRecord) -> Control {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let memory = resident_mb();
        if let Some(mb) = memory {
            self.memory.0.borrow_mut().push(mb);
        }
        if !self.quiet {
            eprintln!(
                "epoch {:>3}  train {}  val {:.5}  {:>6.1}s  {:>6.0} img/s  {:>5.0} MB",
                r.epoch,
                losses(r.train_loss, &r.losses),
                r.val_loss,
                r.seconds,
                r.train_images_per_s,
                memory.unwrap_or(f64::NAN)
            );
        }
        Control::Continue
    }
}
