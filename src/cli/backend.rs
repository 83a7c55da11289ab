//! Choosing the compute device at the edge: flex (CPU) or wgpu (GPU, or software Vulkan).

use burn::prelude::*;
use clap::ValueEnum;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend, multi-threaded with SIMD.
    Flex,
    /// burn's wgpu backend: Vulkan, Metal or DX12 on a GPU (or Mesa's software Vulkan).
    Wgpu,
    /// burn's CUDA backend on an NVIDIA GPU (built with `--features cuda`).
    #[cfg(feature = "cuda")]
    Cuda,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            #[cfg(feature = "cuda")]
            Backend::Cuda => "cuda",
        }
    }

    /// The device, or a readable reason why there is none (e.g. no wgpu adapter).
    pub fn device(self) -> Result<Device, String> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            Backend::Wgpu => Device::wgpu_options().init().map_err(|e| {
                format!(
                    "no wgpu adapter ({e}); on a machine without a GPU install Mesa's software Vulkan (Debian: mesa-vulkan-drivers) or use --backend flex"
                )
            }),
            #[cfg(feature = "cuda")]
            Backend::Cuda => cuda_device(),
        }
    }
}

/// The first CUDA GPU, tried with one small tensor: without a driver or a GPU burn's CUDA
/// runtime panics at first use, which here becomes an error that says so.
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| {
        let device = Device::cuda(0);
        Tensor::<1>::ones([4], &device).sum().into_scalar::<f32>();
        device
    });
    std::panic::set_hook(quiet);
    probe.map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown reason");
        format!("no CUDA device ({reason}); use --backend wgpu or flex")
    })
}

/// Sets flush-to-zero and denormals-are-zero on this thread and on every rayon worker.
///
/// When a loss plateaus, gradients shrink into denormal floats, which x86 handles up to 100x
/// slower; measured here, a plateaued epoch took twice as long. Denormals carry no useful signal
/// for these nets, so they are flushed. Must run before anything starts rayon's global pool.
pub fn flush_denormals_to_zero() {
    set_ftz_daz();
    // Fails only if the pool already exists, in which case its threads keep their mode.
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| set_ftz_daz())
        .build_global();
}

#[cfg(target_arch = "x86_64")]
fn set_ftz_daz() {
    // MXCSR bit 15 is flush-to-zero, bit 6 denormals-are-zero.
    #[allow(deprecated)] // the intrinsics are deprecated in favour of inline asm, but exact
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x8040);
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn set_ftz_daz() {}

/// Keeps freed memory in the process instead of handing it back to the OS.
///
/// flex allocates and frees activations of several megabytes every step. glibc serves blocks
/// that large with mmap and unmaps them on free, so every step page-faults its activations in
/// again: measured on 2 cores, `best` trained at 1,130 images/s that way and at 2,000 with this.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; called before any worker thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 512 << 20);
    }
}
