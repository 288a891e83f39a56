//! The conformance harness: fake upstream endpoints on loopback addresses, a real Envoy started
//! with meshsim's exported configuration, and a tiny HTTP/1.1 client. Everything is bounded:
//! sockets time out, Envoy and the upstreams stop when their guards drop (also on failure).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the Envoy binary is: `ENVOY_BIN`, the repository's `.venv`, or `envoy` on PATH.
pub fn find_envoy() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ENVOY_BIN") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/envoy");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("envoy"))
        .find(|p| p.is_file())
}

/// A free TCP port on loopback (bound once, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// What an upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The upstream's address.
    pub upstream: String,
    /// Host header.
    pub host: String,
    /// `:path`, as sent upstream.
    pub path: String,
    /// Every header, lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
}

/// How a fake endpoint behaves: meshsim's own description (from the scenario's annotations),
/// acted out for real. Crashes are not acted out.
pub type Behaviour = meshsim::resilience::endpoint::Behaviour;

/// Fake endpoints: each answers 200 with its own `IP:PORT` as the body (and the
/// `x-envoy-attempt-count` it received in `x-attempt`), or misbehaves as its behaviour says.
pub struct Upstreams {
    stop: Arc<AtomicBool>,
    addrs: Vec<SocketAddr>,
    /// Every request any of them received.
    pub log: Arc<Mutex<Vec<Received>>>,
}

impl Upstreams {
    pub fn start(addrs: &[(String, Behaviour)]) -> Upstreams {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut bound = Vec::new();
        for (n, (a, behaviour)) in addrs.iter().enumerate() {
            let addr: SocketAddr = a
                .parse()
                .unwrap_or_else(|_| panic!("endpoint {a} is not IP:PORT"));
            assert!(
                addr.ip().is_loopback(),
                "conformance endpoints must be loopback: {a}"
            );
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {a}: {e}"));
            bound.push(addr);
            let (stop, log, me, b) = (stop.clone(), log.clone(), a.clone(), behaviour.clone());
            let rng = Arc::new(Mutex::new(meshsim::common::rng::SimRng::new(
                0x5eed + n as u64,
                9,
            )));
            std::thread::spawn(move || {
                for conn in l.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (log, me, stop, b, rng) = (
                        log.clone(),
                        me.clone(),
                        stop.clone(),
                        b.clone(),
                        rng.clone(),
                    );
                    std::thread::spawn(move || serve(conn, &me, &log, &stop, &b, &rng));
                }
            });
        }
        Upstreams {
            stop,
            addrs: bound,
            log,
        }
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for a in &self.addrs {
            let _ = TcpStream::connect_timeout(a, Duration::from_millis(100));
        }
    }
}

fn serve(
    conn: TcpStream,
    me: &str,
    log: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
    b: &Behaviour,
    rng: &Mutex<meshsim::common::rng::SimRng>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut host = String::new();
        let mut attempt = String::new();
        let mut len = 0usize;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                match k.trim().to_ascii_lowercase().as_str() {
                    "host" => host = v.trim().to_string(),
                    "x-envoy-attempt-count" => attempt = v.trim().to_string(),
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(Received {
            upstream: me.to_string(),
            host,
            path: path.clone(),
            headers,
        });
        use meshsim::resilience::endpoint::Failure;
        let (fails, delay) = {
            let mut r = rng.lock().unwrap();
            let rate = b.fail_rate_for(&path);
            let fails = rate > 0.0 && r.next_f64() < rate;
            let d = if fails {
                b.failure_delay.unwrap_or(b.latency)
            } else {
                b.latency
            };
            (fails, d.sample(&mut r))
        };
        if delay > 0 {
            std::thread::sleep(Duration::from_nanos(delay.min(20_000_000_000)));
        }
        let status = match (fails, b.failure) {
            (false, _) => 200,
            (true, Failure::Status(s)) => s,
            (true, Failure::Timeout) => {
                // Never answer (bounded: Envoy's timeouts fire long before).
                std::thread::sleep(Duration::from_secs(10));
                return;
            }
            (true, Failure::Reset | Failure::Crash) => {
                let _ = w.shutdown(std::net::Shutdown::Both);
                return;
            }
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-attempt: {attempt}\r\ncontent-type: text/plain\r\n\r\n{me}",
            me.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A running Envoy, stopped on drop.
pub struct Envoy {
    child: Child,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Envoy {
    /// Starts Envoy with a bootstrap and waits (at most 20 s) until its listener accepts.
    pub fn start(bin: &PathBuf, bootstrap: &serde_json::Value, listener: SocketAddr) -> Envoy {
        let dir = std::env::temp_dir().join(format!(
            "meshsim-conformance-{}-{}",
            std::process::id(),
            listener.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("envoy.json");
        std::fs::write(&cfg, serde_json::to_vec_pretty(bootstrap).unwrap()).unwrap();
        let log = std::fs::File::create(dir.join("envoy.log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&cfg)
            .args([
                "--concurrency",
                "1",
                "--log-level",
                "warn",
                "--disable-hot-restart",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut envoy = Envoy {
            child,
            _dir: TempDir(dir.clone()),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&listener, Duration::from_millis(200)).is_ok() {
                return envoy;
            }
            if let Ok(Some(status)) = envoy.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
                panic!("envoy exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "envoy did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A keep-alive HTTP/1.1 client.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None }
    }

    /// The client side of the current connection, if connected.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.conn
            .as_ref()
            .and_then(|c| c.get_ref().local_addr().ok())
    }

    /// The Envoy side.
    pub fn peer_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the connection: the next request comes from a new client port.
    pub fn reconnect(&mut self) {
        self.conn = None;
    }

    /// Sends one request; reconnects when Envoy closed the connection.
    pub fn send(&mut self, req: &meshsim::route::Request) -> Response {
        for _ in 0..3 {
            if self.conn.is_none() {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                    .expect("connect to envoy");
                s.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
                self.conn = Some(BufReader::new(s));
            }
            match self.try_send(req) {
                Some(r) => return r,
                None => self.conn = None,
            }
        }
        panic!("no response from envoy for {req}");
    }

    fn try_send(&mut self, req: &meshsim::route::Request) -> Option<Response> {
        let conn = self.conn.as_mut()?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\n",
            req.method, req.path, req.authority
        );
        for (k, v) in &req.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("content-length: 0\r\n\r\n");
        conn.get_mut().write_all(head.as_bytes()).ok()?;
        let mut line = String::new();
        if conn.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            conn.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).ok()?;
        if headers
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            self.conn = None;
        }
        Some(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Pearson's chi-square test of homogeneity between two count vectors; returns the statistic
/// and the degrees of freedom.
pub fn chi_square_two_sample(a: &[u64], b: &[u64]) -> (f64, usize) {
    let na: f64 = a.iter().sum::<u64>() as f64;
    let nb: f64 = b.iter().sum::<u64>() as f64;
    let mut stat = 0.0;
    let mut cells = 0usize;
    for (x, y) in a.iter().zip(b) {
        let tot = (*x + *y) as f64;
        if tot == 0.0 {
            continue;
        }
        cells += 1;
        let ea = tot * na / (na + nb);
        let eb = tot * nb / (na + nb);
        stat += (*x as f64 - ea).powi(2) / ea + (*y as f64 - eb).powi(2) / eb;
    }
    (stat, cells.saturating_sub(1))
}

/// The chi-square critical value at significance 0.001 (a correct simulator fails a scenario
/// with probability 1/1000), for 1..=10 degrees of freedom.
pub fn chi_square_critical_001(df: usize) -> f64 {
    const T: [f64; 10] = [
        10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
    ];
    T[df.clamp(1, 10) - 1]
}

/// GET `path` from Envoy's admin interface on loopback: the body, de-chunked (admin streams
/// `/stats` with chunked encoding). Bounded by a 10 s read timeout.
pub fn admin_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(5),
    )
    .expect("connect to envoy's admin");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return String::new();
    };
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
