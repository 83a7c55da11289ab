//! `latentlab serve`: a small static file server for the web app.
//!
//! It serves the page (`index.html`, `worker.js`), `pkg/` (the wasm-bindgen output), `style/` and
//! `data/` from the project root, on 127.0.0.1 only (a secure context, so WebGPU and IndexedDB
//! work). Every response carries COOP/COEP headers so the page is cross-origin isolated.
//!
//! One thread per connection and one request per connection (`Connection: close`), requests
//! parsed by `httparse`. It was `tiny_http` 0.12, whose accept loop runs each keep-alive
//! connection as a task of a thread pool that can queue a new connection behind open, idle ones
//! (its `TaskPool::spawn` counts a thread as waiting after it was handed a task): with the page,
//! its worker and the worker's pool all requesting at once, a page load then waited for its
//! module for good, 3 loads in 10 (README, "Size and start").

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// The most a request's head may take (request line and headers; a GET has no body).
const MAX_HEAD: usize = 16 * 1024;

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
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    // The one line scripts wait for.
    println!("latentlab is served at http://127.0.0.1:{port}/");
    serve(listener, root);
    Ok(())
}

/// Answers every connection to `listener` from files under `root`, each on a thread of its own.
pub fn serve(listener: TcpListener, root: PathBuf) {
    let root = Arc::new(root);
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            // A client that goes away mid-response is its own business.
            let _ = answer(&root, stream);
        });
    }
}

/// Reads one request from `stream` and answers it.
fn answer(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    // A connection that never sends a request holds only its own thread, and not for long.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let (method, path) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    request.method.unwrap_or_default().to_string(),
                    request.path.unwrap_or("/").to_string(),
                );
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => {}
            _ => {
                return respond(
                    &mut stream,
                    400,
                    "text/plain; charset=utf-8",
                    b"bad request",
                );
            }
        }
    };
    let file = resolve(root, &path).and_then(|p| fs::read(&p).ok().map(|bytes| (p, bytes)));
    match (method.as_str(), file) {
        ("GET", Some((path, bytes))) => respond(&mut stream, 200, content_type(&path), &bytes),
        ("GET", None) => respond(&mut stream, 404, "text/plain; charset=utf-8", b"not found"),
        _ => respond(
            &mut stream,
            405,
            "text/plain; charset=utf-8",
            b"only GET is served",
        ),
    }
}

/// Writes a whole response and closes the connection.
fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\n\
         Cross-Origin-Embedder-Policy: require-corp\r\n\
         Cache-Control: no-cache\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
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

    /// Open connections that send nothing (a browser keeps several) do not hold up a request, and
    /// the response carries the isolation headers and the whole file.
    #[test]
    fn idle_connections_do_not_hold_up_a_request() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener, root));
        let _idle: Vec<TcpStream> = (0..12)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        let mut client = TcpStream::connect(address).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
            .write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let mut reply = Vec::new();
        client
            .read_to_end(&mut reply)
            .expect("answered, and closed, in time");
        let reply = String::from_utf8(reply).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Cross-Origin-Embedder-Policy: require-corp"));
        assert!(head.contains("Cross-Origin-Opener-Policy: same-origin"));
        let index = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("index.html"));
        assert_eq!(body, index.unwrap());

        let mut other = TcpStream::connect(address).unwrap();
        other
            .write_all(b"GET /Cargo.toml HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        other.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");
    }
}
