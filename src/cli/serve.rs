//! `latentlab serve`: a small static file server for the web app.
//!
//! It serves the page (`index.html`, `worker.js`), `pkg/` (the wasm-bindgen output), `style/` and
//! `data/` from the project root, on 127.0.0.1 only (a secure context, so WebGPU and IndexedDB
//! work). Every response carries COOP/COEP headers so the page is cross-origin isolated.

use std::fs;
use std::path::{Component, Path, PathBuf};

use tiny_http::{Header, Response, Server, StatusCode};

use super::CliResult;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Directory holding index.html, pkg/, style/ and data/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

/// Top-level entries the server hands out; everything else (sources, runs, .git) is a 404.
const SERVED: [&str; 6] = [
    "index.html",
    "worker.js",
    "pkg",
    "style",
    "data",
    "favicon.svg",
];

pub fn run(args: ServeArgs) -> CliResult {
    let root = args
        .root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.root.display()))?;
    if !root.join("pkg").join("latentlab_bg.wasm").is_file() {
        return Err(format!(
            "{} has no pkg/latentlab_bg.wasm: build the web app first (bash scripts/build-web.sh)",
            root.display()
        ));
    }
    let server = Server::http(("127.0.0.1", args.port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .unwrap_or(args.port);
    // The one line scripts wait for.
    println!("latentlab is served at http://127.0.0.1:{port}/");
    for request in server.incoming_requests() {
        let response = match resolve(&root, request.url()) {
            Some(path) => match fs::read(&path) {
                Ok(bytes) => Response::from_data(bytes)
                    .with_header(header("Content-Type", content_type(&path))),
                Err(_) => not_found(),
            },
            None => not_found(),
        };
        let response = response
            .with_header(header("Cross-Origin-Opener-Policy", "same-origin"))
            .with_header(header("Cross-Origin-Embedder-Policy", "require-corp"))
            .with_header(header("Cache-Control", "no-cache"));
        let _ = request.respond(response);
    }
    Ok(())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header")
}

fn not_found() -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string("not found").with_status_code(StatusCode(404))
}

/// Maps a request path to a file under `root`, or `None` when it is outside what is served
/// (no `..`, no hidden or unlisted top-level entries).
fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let relative = Path::new(path);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let top = relative.components().next()?.as_os_str().to_str()?;
    if !SERVED.contains(&top) {
        return None;
    }
    let full = root.join(relative);
    full.is_file().then_some(full)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_app_is_served() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(resolve(root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(root, "/index.html?x=1"),
            Some(root.join("index.html"))
        );
        assert_eq!(resolve(root, "/Cargo.toml"), None);
        assert_eq!(resolve(root, "/../Cargo.toml"), None);
        assert_eq!(resolve(root, "/style/../Cargo.toml"), None);
        assert_eq!(resolve(root, "/pkg/missing.js"), None);
        assert_eq!(
            content_type(Path::new("pkg/latentlab_bg.wasm")),
            "application/wasm"
        );
    }
}
