//! The native `latentlab` command; see `latentlab --help`.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    latentlab::cli::main()
}

// The wasm build is the library (the web app); the binary only exists natively.
#[cfg(target_arch = "wasm32")]
fn main() {}
