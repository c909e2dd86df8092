//! Generates the `pbflow` messages and the `Collector` client/server from `proto/flow.proto`, and
//! the `pbpacket` ones from `proto/packet.proto`, with the pure-Rust `protox` compiler, so no
//! system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/flow.proto");
    println!("cargo:rerun-if-changed=proto/packet.proto");
    let fds = protox::compile(["flow.proto", "packet.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
