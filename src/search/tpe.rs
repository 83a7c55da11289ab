//! TPE (tree-structured Parzen estimators) for the page's search, from the `tpe` crate (by an
//! optuna developer): one optimiser per parameter, told every trial that drew it, as optuna's
//! default independent TPE sampler works. The first `startup` trials draw uniformly (optuna's
//! `n_startup_trials`), then each parameter takes the best of the crate's candidates by the
//! ratio of good to bad densities.
//!
//! A parameter's range can depend on earlier ones (a padding on its kernel); each range gets
//! its own optimiser, so densities are never mixed across ranges. Integers are searched as
//! reals in [low, high + 1) and floored; log parameters in log space.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tpe::{TpeOptimizer, parzen_estimator, range};

use super::Suggest;

pub struct TpeSearch {
    rng: ChaCha8Rng,
    startup: usize,
    /// Trials told so far.
    trials: usize,
    optimizers: BTreeMap<String, TpeOptimizer>,
    /// The current trial's draws: optimiser key and value in the searched space.
    drawn: Vec<(String, f64)>,
}

impl TpeSearch {
    /// A search seeded by `seed` whose first `startup` trials draw uniformly.
    pub fn new(seed: u64, startup: usize) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            startup,
            trials: 0,
            optimizers: BTreeMap::new(),
            drawn: Vec::new(),
        }
    }

    /// Ends the current trial with its objective (lower is better; infinite for a net that
    /// could not be built or diverged, which ranks it below every finished one).
    pub fn tell(&mut self, value: f64) {
        let value = if value.is_nan() { f64::INFINITY } else { value };
        for (key, x) in self.drawn.drain(..) {
            let optimizer = self.optimizers.get_mut(&key).expect("made when drawn");
            optimizer
                .tell(x, value)
                .expect("drawn in its range, not NaN");
        }
        self.trials += 1;
    }

    /// Trials told so far.
    pub fn trials(&self) -> usize {
        self.trials
    }

    /// A value in [start, end) for parameter `key`.
    fn draw(&mut self, key: String, start: f64, end: f64) -> Result<f64, String> {
        if start.partial_cmp(&end) != Some(std::cmp::Ordering::Less) {
            return Err(format!("{key}: an empty range"));
        }
        let optimizer = self.optimizers.entry(key.clone()).or_insert_with(|| {
            TpeOptimizer::new(parzen_estimator(), range(start, end).expect("start < end"))
        });
        let x = if self.trials < self.startup {
            start + self.rng.random::<f64>() * (end - start)
        } else {
            optimizer
                .ask(&mut self.rng)
                .map_err(|e| format!("{key}: {e}"))?
        };
        // The crate's range is half-open; keep a draw at its very end inside it.
        let x = x.clamp(start, end - (end - start) * 1e-12);
        self.drawn.push((key, x));
        Ok(x)
    }
}

impl Suggest for TpeSearch {
    fn int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64, String> {
        let key = format!("{name}[{low},{high}]");
        let (a, b) = (low as f64, high as f64 + 1.0);
        let v = if log {
            self.draw(key, a.ln(), b.ln())?.exp()
        } else {
            self.draw(key, a, b)?
        };
        Ok((v.floor() as i64).clamp(low, high))
    }

    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64, String> {
        let key = format!("{name}[{low},{high}]");
        Ok(if log {
            self.draw(key, low.ln(), high.ln())?.exp().clamp(low, high)
        } else {
            self.draw(key, low, high)?
        })
    }
}
