//! The container image (`Containerfile`) and the manifests that run it
//! (`deploy/`) must agree: no container runtime runs in the tests, so the
//! contract between the two is checked from the files themselves.

use serde_json::Value;

use crate::harness::repo;

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The instructions of the Containerfile (continuation lines joined,
/// comments dropped), as (KEYWORD, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                if let Some((keyword, args)) = current.trim().split_once(' ') {
                    out.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
                }
                current.clear();
            }
        }
    }
    out
}

/// The Deployment in deploy/deployment.yaml.
fn deployment() -> Value {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&read("deploy/deployment.yaml")).expect("deployment parses");
    docs.into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment")
}

#[test]
fn the_containerfile_builds_what_deploy_runs() {
    let file = instructions(&read("Containerfile"));
    let all = |keyword: &str| -> Vec<&str> {
        file.iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    // Multi-stage: a Rust build stage, a minimal run stage of the same
    // Debian release (the binary needs the build stage's glibc).
    let stages = all("FROM");
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(
        stages[0].contains("library/rust:") && stages[0].ends_with("AS build"),
        "{stages:?}"
    );
    let debian = [("bookworm", "debian12"), ("trixie", "debian13")];
    assert!(
        debian
            .iter()
            .any(|(build, run)| stages[0].contains(build) && stages[1].contains(run)),
        "build and run stages on one Debian release: {stages:?}"
    );
    assert!(stages[1].starts_with("gcr.io/distroless/cc-"), "{stages:?}");
    assert!(
        all("RUN").iter().any(|r| r.contains(
            "cargo build --profile dist --locked --features kubernetes,jemalloc --bin gslb"
        ) && r.contains("target/dist/gslb")),
        "{file:?}"
    );
    assert_eq!(all("ENTRYPOINT"), [r#"["/usr/local/bin/gslb"]"#]);
    let spec = &deployment()["spec"]["template"]["spec"];
    let uid = spec["securityContext"]["runAsUser"]
        .as_i64()
        .expect("runAsUser");
    let gid = spec["securityContext"]["fsGroup"]
        .as_i64()
        .expect("fsGroup");
    assert_eq!(
        all("USER"),
        [format!("{uid}:{gid}")],
        "non-root, as deploy/ runs it"
    );
    let exposed: Vec<&str> = all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    let kustomization: Value =
        serde_saphyr::from_str(&read("deploy/kustomization.yaml")).expect("kustomization");
    let image_name = kustomization["images"][0]["name"]
        .as_str()
        .expect("images[0].name");
    for container in spec["containers"].as_array().expect("containers") {
        let name = &container["name"];
        let image = container["image"].as_str().expect("image");
        assert!(
            image.starts_with(&format!("{image_name}:")),
            "{name}: {image} is the kustomization's {image_name}"
        );
        assert!(
            container.get("command").is_none(),
            "{name}: args only, so the image's entrypoint (gslb) runs"
        );
        for port in container["ports"].as_array().expect("ports") {
            let port = format!(
                "{}/{}",
                port["containerPort"],
                port["protocol"]
                    .as_str()
                    .unwrap_or("TCP")
                    .to_ascii_lowercase()
            );
            assert!(
                exposed.contains(&port.as_str()),
                "{name}: {port} in {exposed:?}"
            );
        }
    }
}
