//! Serves a fake API server on loopback until interrupted, for running a binary (the operator)
//! against it by hand or from a measurement script.
//!
//! ```text
//! cargo run -p netobserv-fake-apiserver --example serve -- \
//!     --kubeconfig /tmp/fake.kubeconfig \
//!     --create config/crd/bases/flows.netobserv.io_flowcollectors.yaml \
//!     --create-after 20 config/samples/flows_v1beta2_flowcollector.yaml
//! ```
//! `--create FILE` creates every document of FILE at start; `--create-after SECS FILE` does so
//! SECS seconds later. Each request is counted; the count is printed every 10 s.

use netobserv_fake_apiserver::FakeApiServer;
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: serve --kubeconfig FILE [--create FILE]... [--create-after SECS FILE]...");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut kubeconfig = None;
    let mut now = Vec::new();
    let mut later = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match (args[i].as_str(), args.get(i + 1), args.get(i + 2)) {
            ("--kubeconfig", Some(f), _) => {
                kubeconfig = Some(f.clone());
                i += 2;
            }
            ("--create", Some(f), _) => {
                now.push(f.clone());
                i += 2;
            }
            ("--create-after", Some(s), Some(f)) => {
                let secs: u64 = s.parse().unwrap_or_else(|_| usage());
                later.push((secs, f.clone()));
                i += 3;
            }
            _ => usage(),
        }
    }
    let Some(kubeconfig) = kubeconfig else {
        usage()
    };
    let fake = match FakeApiServer::start().await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("serve: cannot start: {e}");
            std::process::exit(1)
        }
    };
    if let Err(e) = std::fs::write(&kubeconfig, fake.kubeconfig()) {
        eprintln!("serve: cannot write {kubeconfig}: {e}");
        std::process::exit(1)
    }
    let create = |file: &str| match std::fs::read_to_string(file) {
        Ok(text) => match fake.create_yaml(&text) {
            Ok(objs) => println!("created {} object(s) from {file}", objs.len()),
            Err(e) => println!("refused {file}: {e}"),
        },
        Err(e) => println!("cannot read {file}: {e}"),
    };
    for f in &now {
        create(f);
    }
    println!("serving {} (kubeconfig {kubeconfig})", fake.url());
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let elapsed = start.elapsed().as_secs();
        for (_, f) in later.iter().filter(|(s, _)| *s == elapsed) {
            create(f);
        }
        if elapsed.is_multiple_of(10) {
            println!(
                "t={elapsed}s requests={} resourceVersion={}",
                fake.requests().len(),
                fake.resource_version()
            );
        }
    }
}
