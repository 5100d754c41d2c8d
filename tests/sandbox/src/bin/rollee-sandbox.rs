//! Runs the local Rollee sandbox on its own, for `make dev` and curl.
//!
//! `SANDBOX_ADDR` (default 127.0.0.1:9000), `SANDBOX_TOKEN` (the JWT it
//! accepts, default `local-sandbox-jwt`) and `SANDBOX_PUBLIC_ORIGIN` (where
//! Connect links point, default `http://<SANDBOX_ADDR>`: e.g.
//! `http://10.0.2.2:9100` for the Android emulator). It listens on a loopback
//! address unless `SANDBOX_PUBLIC_ORIGIN` is set, which says it is meant to be
//! reached from elsewhere (a phone on the same network).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("SANDBOX_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9000".to_owned())
        .parse()?;
    let origin = std::env::var("SANDBOX_PUBLIC_ORIGIN")
        .ok()
        .filter(|o| !o.trim().is_empty());
    if !addr.ip().is_loopback() && origin.is_none() {
        return Err(
            "SANDBOX_ADDR must be a loopback address unless SANDBOX_PUBLIC_ORIGIN is set".into(),
        );
    }
    let token = std::env::var("SANDBOX_TOKEN").unwrap_or_else(|_| "local-sandbox-jwt".to_owned());
    let sandbox = rollee_sandbox::Sandbox::bind_with_origin(addr, &token, origin).await?;
    // Stdout is this tool's interface: the base URL to configure.
    let stdout = std::io::stdout();
    std::io::Write::write_all(
        &mut stdout.lock(),
        format!(
            "rollee sandbox listening: ROLLEE_API_URL={}\n",
            sandbox.base_url()
        )
        .as_bytes(),
    )?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}
