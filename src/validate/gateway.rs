//! Gateway: Istio's `ValidateGateway` (servers, ports, hosts, TLS).

use super::Sink;
use super::common::{labels, port_number, spec};
use super::rules::host_error;
use crate::config::{Gateway, Resource};
use crate::diag::{Diagnostic, codes};

pub(super) fn gateway(r: &Resource<Gateway>, out: &mut Vec<Diagnostic>) {
    let mut s = Sink {
        origin: &r.origin,
        out,
    };
    let p = spec();
    if r.spec.servers.is_empty() {
        s.err(
            codes::INVALID_SERVER,
            &p,
            "gateway must have at least one server",
        );
    }
    labels(&r.spec.selector, &p.key("selector"), &mut s);
    for (i, sv) in r.spec.servers.iter().enumerate() {
        let sp = p.key("servers").index(i);
        match &sv.port {
            None => s.err(codes::INVALID_SERVER, &sp, "server must have a port"),
            Some(port) => {
                port_number(port.number, &sp.key("port").key("number"), &mut s);
                if let Some(pr) = &port.protocol
                    && !matches!(
                        pr.to_ascii_uppercase().as_str(),
                        "HTTP"
                            | "HTTPS"
                            | "GRPC"
                            | "HTTP2"
                            | "MONGO"
                            | "TCP"
                            | "TLS"
                            | "GRPC-WEB"
                            | "REDIS"
                            | "MYSQL"
                            | "HTTP_PROXY"
                    )
                {
                    s.err(
                        codes::INVALID_SERVER,
                        &sp.key("port").key("protocol"),
                        format!("unrecognized protocol `{pr}`"),
                    );
                }
            }
        }
        if sv.hosts.is_empty() {
            s.err(
                codes::INVALID_SERVER,
                &sp.key("hosts"),
                "server config must contain at least one host",
            );
        }
        for (k, h) in sv.hosts.iter().enumerate() {
            let name = h.split_once('/').map_or(h.as_str(), |x| x.1);
            if let Some(e) = host_error(name) {
                s.err(codes::INVALID_HOST, &sp.key("hosts").index(k), e);
            }
        }
    }
}
