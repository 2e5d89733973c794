//! A real HTTP/1.1 server on 127.0.0.1 for download tests, with scripted misbehaviour.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Clone)]
pub enum Body {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behave {
    /// Serve the body, honouring `Range: bytes=N-`.
    Serve,
    NotFound,
    /// The first request gets the headers and only this many bytes, then the connection drops.
    DropOnce(u64),
    /// Every response promises the whole body, sends this many bytes and closes.
    Truncate(u64),
    /// Answer 503 this many times, then serve.
    Unavailable(u32),
}

struct Route {
    body: Body,
    behave: Behave,
    hits: u32,
}

/// One request as the server saw it: path and Range header.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub range: Option<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, h, s) = (routes.clone(), hits.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, h) = (r.clone(), h.clone());
                thread::spawn(move || {
                    let _ = handle(conn, &r, &h);
                });
            }
        });
        Server {
            addr,
            routes,
            hits,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn route(&self, path: &str, body: Body, behave: Behave) {
        self.routes.lock().unwrap().insert(
            path.to_string(),
            Route {
                body,
                behave,
                hits: 0,
            },
        );
    }

    pub fn bytes(&self, path: &str, data: &[u8], behave: Behave) {
        self.route(path, Body::Bytes(Arc::new(data.to_vec())), behave);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(
    conn: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    hits: &Mutex<Vec<Hit>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    hits.lock().unwrap().push(Hit {
        path: path.clone(),
        range: range.clone(),
    });
    let (body, behave, n) = {
        let mut r = routes.lock().unwrap();
        match r.get_mut(&path) {
            Some(route) => {
                route.hits += 1;
                (Some(route.body.clone()), route.behave, route.hits)
            }
            None => (None, Behave::NotFound, 1),
        }
    };
    let mut out = conn;
    let body = match (body, behave) {
        (Some(b), Behave::Serve | Behave::DropOnce(_) | Behave::Truncate(_)) => b,
        (Some(b), Behave::Unavailable(times)) if n > times => b,
        (_, Behave::Unavailable(_)) => return out.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        _ => return out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
    let len = body.len();
    let start = match (&range, behave) {
        (_, Behave::Truncate(_)) => 0,
        (Some(r), _) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            .min(len),
        (None, _) => 0,
    };
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
            len - start,
            len.saturating_sub(1)
        )
    } else {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n")
    };
    out.write_all(head.as_bytes())?;
    let limit = match behave {
        Behave::DropOnce(k) if n == 1 => k,
        Behave::Truncate(k) => k,
        _ => u64::MAX,
    };
    let mut sent = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let mut file = match &body {
        Body::File(p) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(start))?;
            Some(f)
        }
        Body::Bytes(_) => None,
    };
    let mut pos = start;
    while pos < len && sent < limit {
        let want = ((len - pos).min(limit - sent) as usize).min(buf.len());
        match (&mut file, &body) {
            (Some(f), _) => f.read_exact(&mut buf[..want])?,
            (None, Body::Bytes(b)) => {
                buf[..want].copy_from_slice(&b[pos as usize..pos as usize + want])
            }
            _ => unreachable!(),
        }
        out.write_all(&buf[..want])?;
        pos += want as u64;
        sent += want as u64;
    }
    out.flush()?;
    let _ = out.shutdown(std::net::Shutdown::Both);
    Ok(())
}
