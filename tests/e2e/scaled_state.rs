//! State across processes (issue 19, item 2; DESIGN, "Scaled out"): two API servers, two
//! gateways and two vaults over ONE database, started in-process from the same settings and
//! data directory (so the gateway key file, and with it the nonce, cookie and handle keys, is
//! the same), as two machines behind a load balancer would run them. Whatever a viewer or a
//! producer does on one is seen by the other at once, or within one second for the caches that
//! say so (the allowlist).
//!
//! - `viewers`: a Digest counter used once across gateways, lockouts and address limits
//!   counted across both, OAuth started on one gateway and finished on the other, replaced and
//!   deleted documents (placeholders, audiences, handles).
//! - `producers`: logout, API-key revocation and the allowlist across API servers.

mod producers;
mod viewers;

use std::net::{IpAddr, Ipv4Addr};

use sealpost::instance::Instance;

use crate::common::TestApp;

/// The other machine: an API server, a gateway and a vault started from `app`'s settings,
/// over its database and data directory.
pub struct Second {
    instance: Instance,
    pub api: String,
    pub gateway: String,
    pub vault: String,
}

impl Second {
    pub async fn start(app: &TestApp) -> Self {
        let instance = Instance::start(&app.settings).await.unwrap();
        let scheme = crate::wiring::scheme(&app.settings);
        Self {
            api: format!("{scheme}://{}", instance.api_addr),
            gateway: format!("{scheme}://{}", instance.gateway_addr),
            vault: format!("{scheme}://{}", instance.vault_addr),
            instance,
        }
    }

    pub async fn stop(self) {
        self.instance.stop().await;
    }
}

/// The second loopback source address (a client the allowlist can tell apart).
pub const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The suite's client (trusting the TLS wiring's CA when there is one), connecting from
/// `source`, never following redirects.
pub fn client_from(source: Ipv4Addr) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(dir) = crate::wiring::tls_dir() {
        let pem = std::fs::read(dir.join("ca.pem")).unwrap();
        let roots = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
        builder = builder.tls_certs_only(roots);
    }
    builder.build().unwrap()
}
