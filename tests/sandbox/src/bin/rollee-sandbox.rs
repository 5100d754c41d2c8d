//! Runs the local Rollee sandbox on its own, for `cargo lambda watch` and curl.
//!
//! `SANDBOX_ADDR` (default 127.0.0.1:9000) and `SANDBOX_TOKEN` (the JWT it
//! accepts, default `local-sandbox-jwt`).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("SANDBOX_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9000".to_owned())
        .parse()?;
    if !addr.ip().is_loopback() {
        return Err("SANDBOX_ADDR must be a loopback address".into());
    }
    let token = std::env::var("SANDBOX_TOKEN").unwrap_or_else(|_| "local-sandbox-jwt".to_owned());
    let sandbox = rollee_sandbox::Sandbox::bind(addr, &token).await?;
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
