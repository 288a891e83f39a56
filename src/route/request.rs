//! The request as the router sees it: pseudo-headers, headers (names lowercased, as Envoy
//! stores them), the calling workload and the gateway it entered through.

use crate::config::StringMap;
use std::borrow::Cow;
use std::fmt;

/// The workload a request comes from (a sidecar's identity).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// Labels of the calling workload (`sourceLabels` match against them).
    pub labels: StringMap,
    /// Its IP (`useSourceIp` hashes it).
    pub ip: Option<String>,
    /// Its namespace (default `default`).
    pub namespace: Option<String>,
}

/// One HTTP request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// The Host / `:authority` value, raw (with its port, if any).
    pub authority: String,
    /// `:method`.
    pub method: String,
    /// `:scheme`.
    pub scheme: String,
    /// `:path`, with the query string.
    pub path: String,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The calling workload; `None` is a sidecar with no labels in `default`.
    pub source: Option<Source>,
    /// The gateway the request enters through (`name` or `namespace/name`); `None` is the mesh.
    pub gateway: Option<String>,
    /// Arrival time in nanoseconds on the simulated clock, if given.
    pub time: Option<u64>,
    /// The port the client connects to, when it is not the authority's (a `Host:
    /// web:1234` sent to port 80: Envoy's listener is 80, and `ignore_port_in_host_matching`
    /// lets the virtual host match anyway).
    pub listener_port: Option<u32>,
}

impl Clone for Request {
    fn clone(&self) -> Self {
        Request {
            authority: self.authority.clone(),
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            source: self.source.clone(),
            gateway: self.gateway.clone(),
            time: self.time,
            listener_port: self.listener_port,
        }
    }

    /// Reuses this request's strings: a stream that writes each request into the same buffer
    /// stops allocating once the buffer has grown to the longest request.
    fn clone_from(&mut self, o: &Self) {
        self.authority.clone_from(&o.authority);
        self.method.clone_from(&o.method);
        self.scheme.clone_from(&o.scheme);
        self.path.clone_from(&o.path);
        self.headers.truncate(o.headers.len());
        let have = self.headers.len();
        for (mine, theirs) in self.headers.iter_mut().zip(&o.headers) {
            mine.0.clone_from(&theirs.0);
            mine.1.clone_from(&theirs.1);
        }
        self.headers.extend_from_slice(&o.headers[have..]);
        self.source.clone_from(&o.source);
        self.gateway.clone_from(&o.gateway);
        self.time = o.time;
        self.listener_port = o.listener_port;
    }
}

impl Request {
    /// `GET /` to `authority`, no headers.
    pub fn get(authority: &str) -> Self {
        Request {
            authority: authority.to_string(),
            method: "GET".into(),
            scheme: "http".into(),
            path: "/".into(),
            headers: Vec::new(),
            source: None,
            gateway: None,
            time: None,
            listener_port: None,
        }
    }

    /// Adds a header (the name is lowercased).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The calling workload's namespace (`default` when the request names none).
    pub fn source_namespace(&self) -> &str {
        self.source
            .as_ref()
            .and_then(|s| s.namespace.as_deref())
            .unwrap_or("default")
    }

    /// Sets the path.
    pub fn with_path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }

    /// Parses the short form the CLI accepts:
    /// `[METHOD] URL [name:value ...]`, e.g. `GET http://myweb-service/ cookie:usertype=tester`.
    /// The URL may omit the scheme (`myweb-service/path`, taken as `http://` as curl does).
    /// Values with spaces are quoted, as in a shell: `cookie:"a=1; usertype=tester"`. A `host`
    /// header sets the authority (`:authority` is HTTP/1.1's Host, in Envoy as in curl).
    ///
    /// ```
    /// use meshsim::route::Request;
    /// let r = Request::parse_short("GET http://myweb-service:80/a?b=1 cookie:usertype=tester").unwrap();
    /// assert_eq!((r.method.as_str(), r.authority.as_str(), r.path.as_str()), ("GET", "myweb-service:80", "/a?b=1"));
    /// assert_eq!(r.header("cookie").as_deref(), Some("usertype=tester"));
    /// let r = Request::parse_short(r#"http://20.50.1.2/ host:web.example.com cookie:"a=1; b=2""#).unwrap();
    /// assert_eq!(r.authority, "web.example.com");
    /// assert_eq!(r.header("cookie").as_deref(), Some("a=1; b=2"));
    /// assert!(Request::parse_short("get http://web/").unwrap_err().contains("write `GET`"));
    /// ```
    pub fn parse_short(s: &str) -> Result<Self, String> {
        Self::parse_short_noting(s).map(|(r, _)| r)
    }

    /// [`parse_short`](Self::parse_short), with what a user typing it should hear about (a URL
    /// without a scheme).
    pub fn parse_short_noting(s: &str) -> Result<(Self, Vec<String>), String> {
        let words = shell_words(s)?;
        let mut words = words.iter().map(String::as_str);
        let first = words.next().ok_or("empty request")?;
        let (method, url) = if !first.is_empty() && first.chars().all(|c| c.is_ascii_uppercase()) {
            let url = words
                .next()
                .ok_or_else(|| format!("`{s}`: expected a URL after the method `{first}`"))?;
            (first.to_string(), url)
        } else if HTTP_METHODS.iter().any(|m| m.eq_ignore_ascii_case(first)) {
            return Err(format!(
                "`{first}`: HTTP methods are case-sensitive (Envoy matches `:method` exactly); write `{}`",
                first.to_ascii_uppercase()
            ));
        } else {
            ("GET".to_string(), first)
        };
        let mut notes = Vec::new();
        let (scheme, rest) = match url.split_once("://") {
            Some((sc, r)) => (sc.to_ascii_lowercase(), r),
            None => {
                notes.push(format!(
                    "`{url}` has no scheme: taken as http://{url}, as curl does"
                ));
                ("http".to_string(), url)
            }
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(format!("`{s}`: the URL has no host"));
        }
        let mut r = Request {
            authority: authority.to_string(),
            method,
            scheme,
            path,
            ..Request::get("")
        };
        for w in words {
            let (n, v) = w
                .split_once(':')
                .ok_or_else(|| format!("`{w}`: expected a header as name:value"))?;
            r.add_header(n, v)?;
        }
        Ok((r, notes))
    }

    /// Adds a header as curl's `-H 'Name: value'` does (spaces after the colon are not part of
    /// the value). `Host` and `:authority` set the authority instead.
    ///
    /// ```
    /// use meshsim::route::Request;
    /// let mut r = Request::get("20.50.1.2");
    /// r.add_header_line("Host: myweb-service.domain.com").unwrap();
    /// r.add_header_line("Cookie: a=1; usertype=tester").unwrap();
    /// assert_eq!(r.authority, "myweb-service.domain.com");
    /// assert_eq!(r.header("cookie").as_deref(), Some("a=1; usertype=tester"));
    /// assert!(r.add_header_line("no colon").is_err());
    /// ```
    pub fn add_header_line(&mut self, line: &str) -> Result<(), String> {
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| format!("`{line}`: expected a header as 'Name: value'"))?;
        // `:authority: x` names a pseudo-header: the colon it starts with is part of the name.
        let (n, v) = if n.is_empty() {
            match v.split_once(':') {
                Some((pseudo, value)) => (format!(":{pseudo}"), value),
                None => return Err(format!("`{line}`: empty header name")),
            }
        } else {
            (n.to_string(), v)
        };
        self.add_header(n.trim(), v.trim_start_matches([' ', '\t']))
    }

    fn add_header(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err(format!("`{name}:{value}`: empty header name"));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{name}`: a header name has no spaces"));
        }
        let name = name.to_ascii_lowercase();
        if name == "host" || name == ":authority" {
            if value.is_empty() {
                return Err("an empty Host: the request needs an authority".into());
            }
            self.authority = value.to_string();
        } else {
            self.headers.push((name, value.to_string()));
        }
        Ok(())
    }

    /// The value of a header as Envoy's matchers see it: all values joined with `,`. Pseudo
    /// headers `:authority`, `:method`, `:scheme`, `:path` (and `host`) come from the request line.
    pub fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        match name {
            ":authority" | "host" => return Some(Cow::Borrowed(&self.authority)),
            ":method" => return Some(Cow::Borrowed(&self.method)),
            ":scheme" => return Some(Cow::Borrowed(&self.scheme)),
            ":path" => return Some(Cow::Borrowed(&self.path)),
            _ => {}
        }
        let mut it = self.headers.iter().filter(|(n, _)| n == name);
        let first = it.next()?;
        match it.next() {
            None => Some(Cow::Borrowed(&first.1)),
            Some(second) => {
                let mut s = format!("{},{}", first.1, second.1);
                for (_, v) in it {
                    s.push(',');
                    s.push_str(v);
                }
                Some(Cow::Owned(s))
            }
        }
    }

    /// Every value of a header, in order (hash policies use them all).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without query string and fragment.
    pub fn path_only(&self) -> &str {
        let end = self
            .path
            .bytes()
            .position(|b| b == b'?' || b == b'#')
            .unwrap_or(self.path.len());
        &self.path[..end]
    }

    /// The first value of a query parameter, as Envoy's route matcher reads it (split on `&`
    /// and the first `=`, no percent-decoding; a bare `key` has the value "").
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let q = self.path.split_once('?')?.1;
        let q = q.split('#').next().unwrap_or("");
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }

    /// The host without a port, lowercased (what Envoy uses to pick the virtual host).
    pub fn host(&self) -> String {
        strip_port(&self.authority).to_ascii_lowercase()
    }

    /// The port of the authority, if it has one.
    pub fn port(&self) -> Option<u32> {
        split_authority(&self.authority).1
    }

    /// The listener port the request arrives on: the one it connects to, else its
    /// authority's, else the scheme's default.
    pub fn arrival_port(&self) -> u32 {
        self.listener_port
            .or_else(|| self.port())
            .unwrap_or_else(|| self.default_port())
    }

    /// The port a request whose authority names none arrives on: 443 for `https`, else 80.
    pub fn default_port(&self) -> u32 {
        if self.scheme == "https" { 443 } else { 80 }
    }
}

/// `host:port` → (`host`, port) in one backward scan (IPv6 literals keep their brackets). A
/// suffix that is not a port number stays part of the host, as [`strip_port`] leaves it.
///
/// ```
/// use meshsim::route::split_authority;
/// assert_eq!(split_authority("web:8080"), ("web", Some(8080)));
/// assert_eq!(split_authority("web"), ("web", None));
/// assert_eq!(split_authority("[::1]:80"), ("[::1]", Some(80)));
/// assert_eq!(split_authority("[::1]"), ("[::1]", None));
/// assert_eq!(split_authority("web:http"), ("web:http", None));
/// ```
#[inline]
pub fn split_authority(authority: &str) -> (&str, Option<u32>) {
    let Some(i) = authority.bytes().rposition(|b| b == b':' || b == b']') else {
        return (authority, None);
    };
    if authority.as_bytes()[i] == b']' {
        return (authority, None);
    }
    let digits = &authority[i + 1..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (authority, None);
    }
    (&authority[..i], digits.parse().ok())
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
pub fn strip_port(authority: &str) -> &str {
    split_authority(authority).0
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}{}",
            self.method, self.scheme, self.authority, self.path
        )?;
        for (n, v) in &self.headers {
            // Quoted as the short form reads it back, when a shell would split it.
            if v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
                let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, " {n}:\"{escaped}\"")?;
            } else {
                write!(f, " {n}:{v}")?;
            }
        }
        if let Some(g) = &self.gateway {
            write!(f, " (via gateway {g})")?;
        }
        Ok(())
    }
}

/// The methods a lowercase spelling is most likely a typo of.
const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Splits a short-form request into words as a shell would: whitespace separates, `"..."` and
/// `'...'` quote (anywhere in a word, so `cookie:"a=1; b=2"` is one word), `\` escapes inside
/// double quotes and outside quotes.
fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("`{s}`: the quote {c} is never closed")),
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => cur.push(chars.next().unwrap_or('\\')),
                        Some(x) => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}
