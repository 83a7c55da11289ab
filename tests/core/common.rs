//! Test helpers: a small, real MNIST subset.

use std::path::PathBuf;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use latentlab::cli::files::load_mnist;
use latentlab::data::Mnist;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// MNIST, loaded once per test binary (run `bash scripts/setup-data.sh` first).
pub fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| {
        load_mnist(&data_dir()).unwrap_or_else(|e| panic!("MNIST is needed for these tests: {e}"))
    })
}

/// burn's flex backend has one random generator per process, which `device.seed` resets and
/// every weight initialisation and dropout draws from. Tests run on parallel threads, so a test
/// that checks a seeded run is repeatable holds this exclusively; tests that draw from the
/// generator hold it shared.
static RNG: RwLock<()> = RwLock::new(());

pub fn rng_shared() -> RwLockReadGuard<'static, ()> {
    RNG.read().unwrap_or_else(|e| e.into_inner())
}

pub fn rng_exclusive() -> RwLockWriteGuard<'static, ()> {
    RNG.write().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
///
/// Hand-rolled rather than the tempfile crate: as a dev-dependency it changes the feature set
/// of crates burn shares, and cargo then builds burn a second time for the tests.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("latentlab-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
