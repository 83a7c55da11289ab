//! A running (exponential moving) average of a module's weights, as GAN practice keeps for the
//! generator: adversarial training makes the live weights circle around a good point, and their
//! average sits nearer it, so it draws cleaner digits for the same training time.
//!
//! The average is a clone of the module (same parameter ids), so each of its floats is matched
//! to the live module's by id. Batch norm's running statistics are the live module's: burn's
//! clones share one `RunningState` (behind an Arc), so the average reads the statistics the
//! live module keeps updating (blending a shared value with itself leaves it as it is).

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

/// The running average of a module's floats.
pub struct Average<M> {
    /// The average (outside any graph: it never trains).
    pub module: M,
    decay: f64,
    updates: u64,
}

impl<M: Module> Average<M> {
    /// Starts the average at `module`'s weights; each update keeps `decay` of the average.
    pub fn new(module: &M, decay: f64) -> Self {
        Self {
            module: module.clone(),
            decay,
            updates: 0,
        }
    }

    /// The decay of the next update: lower while few updates are in, so that the average does
    /// not linger at the random start (TensorFlow's `ExponentialMovingAverage` rule).
    fn next_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Moves the average towards `live` (a module of the same structure, cloned from the one
    /// the average started at).
    pub fn update(&mut self, live: &M) {
        let keep = self.next_decay();
        self.updates += 1;
        let mut floats = Floats(HashMap::new());
        live.visit(&mut floats);
        let mut blend = Blend {
            live: floats.0,
            keep,
        };
        self.module = self.module.clone().map(&mut blend);
    }
}

/// Every float of a module by parameter id, flattened and detached.
struct Floats(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Floats {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // The arithmetic runs on the inner backend: through autodiff's dispatch, a few small
        // ops per float tensor per step cost a fifth of a GAN step.
        let value = param.val().inner().flatten::<1>(0, D - 1);
        self.0.insert(param.id, value);
    }
}

/// Maps each float of the average to `keep` x itself + (1 - keep) x the live value.
struct Blend {
    live: HashMap<ParamId, Tensor<1>>,
    keep: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(live) = self.live.remove(&param.id) else {
            return param;
        };
        let keep = self.keep;
        param.map(|avg| {
            let autodiff = avg.is_autodiff();
            let shape = avg.shape();
            let mixed = avg.inner() * keep + live.reshape(shape) * (1.0 - keep);
            if autodiff {
                Tensor::from_inner(mixed)
            } else {
                mixed
            }
        })
    }
}
