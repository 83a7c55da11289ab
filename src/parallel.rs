//! Work spread over rayon's thread pool where there is one: natively, and in the page's `threads`
//! build (Web Workers sharing the module's memory). The single-threaded wasm build (the WebGPU
//! page) has no pool, and everything here runs in order on the calling thread.
//!
//! Two layers use it: the convolution kernels split a batch's samples into blocks
//! (`kernels/flex.rs`), and the training engine splits a batch into shards, each with its own
//! autodiff graph (`training/shards.rs`).

use std::ops::Range;

use burn::module::Module;
use burn::prelude::*;

/// The fewest images a piece of a batch holds: smaller pieces cost more in per-op overhead than
/// a thread gains.
pub const MIN_PIECE: usize = 32;

/// Threads the pool computes on (1 where there is no pool).
pub fn threads() -> usize {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    let threads = rayon::current_num_threads();
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    let threads = 1;
    threads.max(1)
}

/// `work(index, item)` for every item, in parallel on rayon's pool where there is one, in order
/// otherwise; the results in the items' order.
pub fn run_all<T: Send, R: Send>(items: Vec<T>, work: impl Fn(usize, T) -> R + Sync) -> Vec<R> {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    {
        use rayon::prelude::*;
        items
            .into_par_iter()
            .enumerate()
            .map(|(i, item)| work(i, item))
            .collect()
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| work(i, item))
        .collect()
}

/// As [`run_all`], with each item on a thread of its own when the pool has a thread for each and
/// the caller is outside it (the training loop's thread). Why: state a layer keeps per thread,
/// as burn's batch norm does for its running statistics (`RunningState`, averaged over threads
/// when read), must see one update per item to come out the same whichever thread ran what;
/// two items on one thread would update it one after the other instead.
pub fn run_each_on_own_thread<T: Send, R: Send>(
    items: Vec<T>,
    work: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    if items.len() > 1
        && items.len() <= rayon::current_num_threads()
        && rayon::current_thread_index().is_none()
    {
        use std::sync::Mutex;
        let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
        // Every pool thread runs this once, by index; those past the items find nothing.
        return rayon::broadcast(|context| {
            let i = context.index();
            let item = slots.get(i).and_then(|slot| {
                slot.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take()
            });
            item.map(|item| work(i, item))
        })
        .into_iter()
        .flatten()
        .collect();
    }
    run_all(items, work)
}

/// How many pieces work on `device` is worth splitting into so that each thread takes one: the
/// pool's threads on the CPU backend (flex), 1 on a GPU (which parallelises each op itself).
pub fn cpu_pieces(device: &Device) -> usize {
    if device.clone().inner() == Device::flex() {
        threads()
    } else {
        1
    }
}

/// `n` images cut into at most `pieces` contiguous ranges of at least [`MIN_PIECE`] images (one
/// range when `n` is too small), sizes differing by at most one.
pub fn batch_ranges(n: usize, pieces: usize) -> Vec<Range<usize>> {
    let k = pieces.min(n / MIN_PIECE).max(1);
    let (base, extra) = (n / k, n % k);
    let mut start = 0;
    (0..k)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// `forward(model, x)` with the batch `x` cut into one piece per CPU thread, run at once, the
/// outputs joined in order (one piece on a GPU or for a small batch). For inference: without
/// autodiff the pieces share nothing. (The model is cloned per piece, which shares its weights:
/// a module is `Send` but not `Sync`.)
pub fn forward_in_pieces<M: Module, const D: usize>(
    model: &M,
    x: Tensor<4>,
    forward: impl Fn(&M, Tensor<4>) -> Tensor<D> + Sync,
) -> Tensor<D> {
    let ranges = batch_ranges(x.dims()[0], cpu_pieces(&x.device()));
    if ranges.len() == 1 {
        return forward(model, x);
    }
    let pieces: Vec<_> = ranges
        .into_iter()
        .map(|r| (model.clone(), x.clone().narrow(0, r.start, r.len())))
        .collect();
    Tensor::cat(run_all(pieces, |_, (m, x)| forward(&m, x)), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_batch_evenly() {
        assert_eq!(batch_ranges(256, 2), vec![0..128, 128..256]);
        assert_eq!(batch_ranges(101, 2), vec![0..51, 51..101]);
        assert_eq!(batch_ranges(100, 3), vec![0..34, 34..67, 67..100]);
        // Too small to split, or one thread: one range.
        assert_eq!(batch_ranges(63, 4), vec![0..63]);
        assert_eq!(batch_ranges(256, 1), vec![0..256]);
        assert_eq!(batch_ranges(0, 2), vec![0..0]);
        // No more ranges than MIN_PIECE allows.
        assert_eq!(batch_ranges(96, 8).len(), 3);
    }
}
