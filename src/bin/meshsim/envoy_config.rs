//! `meshsim envoy-config`: the Envoy configuration istiod would push for the compiled mesh.

use crate::failure::Failure;
use crate::load::{MeshArgs, load_mesh, simulator};
use meshsim::compile::Proxy;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    mesh: MeshArgs,
    /// kubectl's `-n NAMESPACE`, refused with the flag meshsim takes for it.
    #[arg(short = 'n', hide = true, value_name = "NAMESPACE")]
    namespace_short: Option<String>,
    /// Listener port whose route configuration to print (sidecar) or gateway server port.
    #[arg(long, default_value_t = 80)]
    port: u32,
    /// Print the routes of this gateway (`name` or `namespace/name`) instead of a sidecar's.
    #[arg(long)]
    gateway: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, Failure> {
    crate::load::refuse_short_namespace(args.namespace_short.as_deref())?;
    let mesh = load_mesh(&args.mesh)?;
    let sim = simulator(&mesh, &args.mesh)?;
    let compiled = sim.compiled();
    let proxy = match &args.gateway {
        Some(g) => {
            let name = meshsim::compile::resolve_gateway_name(g, "default");
            if !mesh.gateway_names().contains(&name) {
                return Err(crate::failure::usage(format!("no Gateway {name}")));
            }
            let labels = mesh
                .gateways
                .iter()
                .find(|x| format!("{}/{}", x.namespace, x.name) == name)
                .map(|gw| gw.spec.selector.clone())
                .unwrap_or_default();
            Proxy::Gateway { name, labels }
        }
        None => Proxy::Sidecar {
            namespace: "default".into(),
            labels: Default::default(),
        },
    };
    let (table, _) = compiled.route_table(&proxy, args.port);
    let table = table.ok_or_else(|| format!("the gateway has no server on port {}", args.port))?;
    let out = serde_json::json!({
        "route_config": meshsim::envoy::route_configuration(&table, compiled.version.shadow_suffix()),
        "clusters": meshsim::envoy::clusters(compiled),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}
