//! Hyperparameter search: the study's space as define-by-run code over a [`Suggest`]er and its
//! objective. Natively optuna holds the study and suggests (`cli/search.rs` talks to
//! `python/search.py`); in the page [`TpeSearch`] suggests and [`median_prune`] stops poor
//! trials early, as optuna's TPE sampler and median pruner do; [`RandomSuggest`] draws
//! uniformly (tests, baselines).

pub mod space;
pub mod tpe;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use space::{Candidate, Recorded, SearchSettings, Suggest, draw, fold_means, objective};
pub use tpe::TpeSearch;

/// Independent uniform draws (log-uniform where asked) from a seeded stream.
pub struct RandomSuggest(ChaCha8Rng);

impl RandomSuggest {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl Suggest for RandomSuggest {
    fn int(&mut self, _name: &str, low: i64, high: i64, log: bool) -> Result<i64, String> {
        if log {
            let v = self.float(_name, low as f64, high as f64 + 1.0, true)?;
            return Ok((v.floor() as i64).clamp(low, high));
        }
        Ok(self.0.random_range(low..=high))
    }

    fn float(&mut self, _name: &str, low: f64, high: f64, log: bool) -> Result<f64, String> {
        let u: f64 = self.0.random();
        Ok(if log {
            (low.ln() + u * (high.ln() - low.ln())).exp()
        } else {
            low + u * (high - low)
        })
    }
}

/// Passes another suggester's values through and keeps them: a trial's parameters, in the
/// order drawn.
pub struct Recording<'a, S> {
    pub inner: &'a mut S,
    pub params: Vec<(String, f64)>,
}

impl<'a, S: Suggest> Recording<'a, S> {
    pub fn new(inner: &'a mut S) -> Self {
        Self {
            inner,
            params: Vec::new(),
        }
    }
}

impl<S: Suggest> Suggest for Recording<'_, S> {
    fn int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64, String> {
        let v = self.inner.int(name, low, high, log)?;
        self.params.push((name.into(), v as f64));
        Ok(v)
    }

    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64, String> {
        let v = self.inner.float(name, low, high, log)?;
        self.params.push((name.into(), v));
        Ok(v)
    }
}

/// optuna's median rule: stop a trial whose loss at `fold` is worse than the median of the
/// earlier trials' losses at that fold, once `startup` earlier trials reached it.
pub fn median_prune(earlier: &[Vec<f64>], fold: usize, loss: f64, startup: usize) -> bool {
    let mut at: Vec<f64> = earlier
        .iter()
        .filter_map(|l| l.get(fold).copied())
        .collect();
    if at.len() < startup.max(1) {
        return false;
    }
    at.sort_by(f64::total_cmp);
    let n = at.len();
    let median = if n % 2 == 1 {
        at[n / 2]
    } else {
        (at[n / 2 - 1] + at[n / 2]) / 2.0
    };
    loss.is_nan() || loss > median
}
